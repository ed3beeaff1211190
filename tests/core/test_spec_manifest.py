"""Spec and manifest: JSON round trips, validation, sidecar lookup, atomic writes."""

from __future__ import annotations

import json

import pytest

from edgeseg.core.fileio import atomic_path, sniff_model_format
from edgeseg.core.manifest import Manifest, find_model_manifest, sidecar_path
from edgeseg.core.presets import CAMVID, get_preset
from edgeseg.core.spec import Spec, parse_size
from edgeseg.errors import EdgesegError, ModelError, SpecError


def test_camvid_preset_matches_readme():
    assert CAMVID.num_classes == 11 and CAMVID.void_index == 11
    assert CAMVID.class_names[3] == "Road" and CAMVID.palette[4] == (60, 40, 222)
    assert CAMVID.class_weights[6] == pytest.approx(9.6446)
    assert get_preset("CamVid") is CAMVID


def test_spec_json_round_trip():
    spec = CAMVID.with_(input_size=(96, 128), label_remap={1: 0, 2: 1})
    assert Spec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize("bad", [
    dict(class_names=()),
    dict(void_index=3),
    dict(channel_order="GBR"),
    dict(std=(1.0, 0.0, 1.0)),
    dict(class_weights=(1.0,)),
])
def test_spec_validation(bad):
    fields = dict(name="x", class_names=("a", "b", "c", "d"))
    fields.update(bad)
    with pytest.raises(SpecError):
        Spec(**fields)


def test_parse_size():
    assert parse_size("360x480") == (360, 480)
    for bad in ("360", "axb", "0x10", "-1x5"):
        with pytest.raises(SpecError):
            parse_size(bad)


def test_manifest_round_trip_and_lookup(tmp_path):
    model = tmp_path / "best.h5"
    model.write_bytes(b"x")
    assert find_model_manifest(model) is None
    Manifest(CAMVID, model={"architecture": "enet"}).save(tmp_path / "manifest.json")
    found = find_model_manifest(model)
    assert found is not None and found.spec == CAMVID and found["model"]["architecture"] == "enet"
    Manifest(CAMVID.with_(name="side")).save(sidecar_path(model))
    assert find_model_manifest(model).spec.name == "side"  # the sidecar wins
    doc = json.loads(sidecar_path(model).read_text())
    assert doc["preprocessing"]["mean"] == list(CAMVID.mean) and "edgeseg_version" in doc


def test_manifest_errors_are_one_line(tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text("{not json")
    with pytest.raises(SpecError, match="not valid JSON") as exc:
        Manifest.load(bad)
    assert "\n" not in str(exc.value)
    bad.write_text("{}")
    with pytest.raises(SpecError, match="no 'spec'"):
        Manifest.load(bad)


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out" / "a.bin"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("boom")
    assert not target.exists() and list(target.parent.iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and len(list(target.parent.iterdir())) == 1


def test_atomic_path_into_a_file_is_a_user_error(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(EdgesegError, match="is a file"):
        with atomic_path(f / "a.bin"):
            pass


def test_sniffing(tmp_path):
    cases = {
        "a.h5": b"\x89HDF\r\n\x1a\n" + b"\0" * 8,
        "a.tflite": b"\x1c\0\0\0TFL3" + b"\0" * 8,
        "a.onnx": b"\x08\x08\x12\x07pytorch",
    }
    for name, head in cases.items():
        (tmp_path / name).write_bytes(head)
        assert sniff_model_format(tmp_path / name) == name.split(".")[1]
    (tmp_path / "empty.h5").write_bytes(b"")
    (tmp_path / "junk.h5").write_bytes(b"hello world, not a model")
    for name, msg in (("empty.h5", "empty"), ("junk.h5", "unrecognised"), ("missing.h5", "no such file")):
        with pytest.raises(ModelError, match=msg):
            sniff_model_format(tmp_path / name)


def _check_round_trip(m: Manifest, folder) -> Manifest:
    """Save ``m``, load it, save and load again: the same file and the same manifest each time."""
    from edgeseg import __version__

    first = m.save(folder / "a.json")
    loaded = Manifest.load(first)
    assert loaded["written_by"] == __version__
    second = loaded.save(folder / "b.json")
    assert json.loads(second.read_text()) == json.loads(first.read_text())
    again = Manifest.load(second)
    assert again.to_dict() == loaded.to_dict() and again.spec == loaded.spec == m.spec
    return again


def _sample_manifest(samples_dir) -> Manifest:
    return Manifest(CAMVID.with_(input_size=(64, 96)), model={"architecture": "enet", "output_stride": 8},
                    training={"epochs_done": 3, "best_val_miou": 41.5},
                    dataset={"images": str(samples_dir / "images"), "masks": str(samples_dir / "masks"), "count": 11})


def test_manifest_load_save_load_is_idempotent(tmp_path, samples_dir, monkeypatch):
    """Load -> save -> load gives the same manifest and the same file: loading records ``written_by`` (the
    version that wrote the file) in memory, and saving must not write it back as a section of its own."""
    _check_round_trip(_sample_manifest(samples_dir), tmp_path)
    # mutation: the save before the fix, which wrote every in-memory section back (written_by included)
    to_dict = Manifest.to_dict

    def writes_back_every_section(self):
        return {**to_dict(self), **{k: v for k, v in self.sections.items() if k == "written_by"}}

    monkeypatch.setattr(Manifest, "to_dict", writes_back_every_section)
    (tmp_path / "mutated").mkdir()
    with pytest.raises(AssertionError):
        _check_round_trip(_sample_manifest(samples_dir), tmp_path / "mutated")
