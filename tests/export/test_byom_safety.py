"""Untrusted Keras 3 files are refused before anything in them runs; damaged ones give one line; spec flags."""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from edgeseg.cli.main import main

from tests.export.byom_models import crafted_keras


def _one_line_error(capsys, rc: int, needle: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err and err[-1].startswith("error: ") and needle in err[-1], err[-3:]
    assert not [ln for ln in err if "Traceback" in ln]
    return err[-1]


def _lambda_model(path: Path, marker: Path) -> Path:
    """A Keras 3 model whose Lambda layer creates ``marker`` whenever it is called (also while loading)."""
    from edgeseg._keras3 import keras

    # a lambda without closure: Keras stores its bytecode (``__lambda__``), the marker path as a constant
    payload = eval(f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1]")  # noqa: S307

    inp = keras.Input((16, 16, 3))
    out = keras.layers.Conv2D(2, 1)(keras.layers.Lambda(payload, name="payload")(inp))
    keras.Model(inp, out).save(path)
    marker.unlink()  # building called it once; from here on only a load would
    return path


def test_lambda_keras_refused_without_running(tmp_path, capsys):
    marker = tmp_path / "marker"
    model = _lambda_model(tmp_path / "lambda.keras", marker)
    for cmd in (["convert", str(model), "--fp32", "--input-size", "16x16", "--out", str(tmp_path / "o")],
                ["lint", str(model)], ["bench", str(model), "--runs", "1", "--min-time", "0"]):
        _one_line_error(capsys, main(cmd), "Lambda")
        assert not marker.exists(), cmd[0]
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())
    # the payload is real: trusting the file runs it
    from edgeseg.export.sources import open_source

    open_source(model, trust_model=True)
    assert marker.exists()


def _os_system(config: dict) -> dict:
    """CVE-2025-1550 shape: the last layer's activation names ``os.system``."""
    layer = config["config"]["layers"][-1]
    layer["config"]["activation"] = {"module": "os", "class_name": "function", "config": "system",
                                     "registered_name": "function"}
    return config


def test_module_injection_refused_in_keras_and_h5(byom, tmp_path, capsys):
    evil = crafted_keras(byom["unet"]["keras"], tmp_path / "evil.keras", _os_system)
    _one_line_error(capsys, main(["convert", str(evil), "--fp32", "--out", str(tmp_path)]), "os.system")
    import json

    import h5py

    evil_h5 = tmp_path / "evil.h5"
    shutil.copy(byom["unet"]["h5"], evil_h5)
    with h5py.File(evil_h5, "r+") as fh:
        fh.attrs["model_config"] = json.dumps(_os_system(json.loads(fh.attrs["model_config"])))
    _one_line_error(capsys, main(["lint", str(evil_h5)]), "os.system")
    # a keras function that is not an activation (writes files / fetches URLs) is refused too
    def get_file(c):
        c["config"]["layers"][-1]["config"]["activation"] = {"module": "keras.utils", "class_name": "function",
                                                             "config": "get_file", "registered_name": "function"}
        return c
    _one_line_error(capsys, main(["lint", str(crafted_keras(byom["unet"]["keras"], tmp_path / "g.keras", get_file))]),
                    "get_file")


def test_damaged_files_one_line(byom, tmp_path, capsys):
    data = byom["unet"]["keras"].read_bytes()
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(data[: len(data) // 2])
    _one_line_error(capsys, main(["convert", str(truncated), "--fp32", "--out", str(tmp_path)]), "truncated")
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(byom["unet"]["keras"]) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        dst.writestr("config.json", src.read("config.json"))
        dst.writestr("model.weights.h5", b"\0" * (24 << 20))  # ~1000:1
    _one_line_error(capsys, main(["convert", str(bomb), "--fp32", "--out", str(tmp_path)]), "zip bomb")
    sm = tmp_path / "no_vars_sm"
    shutil.copytree(byom["unet"]["savedmodel"], sm)
    shutil.rmtree(sm / "variables")
    _one_line_error(capsys, main(["convert", str(sm), "--fp32", "--out", str(tmp_path)]), "variables")
    _one_line_error(capsys, main(["convert", str(tmp_path), "--fp32"]), "saved_model.pb")
    # keras-hub + model.export(): BatchNorms in training mode, outputs depend on the batch -> refused, with the fix
    _one_line_error(capsys, main(["convert", str(byom["deeplab"]["export_default"]), "--fp32", "--out", str(tmp_path)]),
                    "training mode")


def test_class_count_must_match_and_default_is_stated(byom, tmp_path, capsys):
    model = byom["unet"]["keras"]
    rc = main(["convert", str(model), "--fp32", "--classes", "5", "--out", str(tmp_path)])
    _one_line_error(capsys, rc, "5 classes given but the model outputs 3")
    labels = tmp_path / "labels.txt"
    labels.write_text("background\npet\nborder\n")
    rc = main(["convert", str(model), "--fp32", "--labels", str(labels), "--normalize", "imagenet",
               "--calib-data", str(byom["data"]), "--out", str(tmp_path / "a")])
    assert rc == 0
    from edgeseg.core.manifest import Manifest

    m = Manifest.load(tmp_path / "a" / "unet_fp32.tflite.json")
    assert m.spec.class_names == ("background", "pet", "border")
    assert m.spec.mean == pytest.approx((0.485, 0.456, 0.406)) and m.get("spec_source")["normalization"] == \
        "imagenet (given)"
    capsys.readouterr()
    assert main(["convert", str(model), "--fp32", "--calib-data", str(byom["data"]), "--out", str(tmp_path / "b")]) == 0
    notes = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("note: ")]
    assert any("assumed 3 classes" in ln for ln in notes) and any("raw pixels" in ln for ln in notes)


def _prelu_h5(path: Path) -> Path:
    from edgeseg._keras import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((32, 32, 3))
    x = keras.layers.PReLU(shared_axes=[1, 2])(keras.layers.Conv2D(4, 3, padding="same")(inp))
    keras.Model(inp, keras.layers.Conv2D(3, 1)(x), name="prelu").save(path)
    return path


def test_all_skips_what_the_model_cannot_become_named_targets_fail(byom, tmp_path, capsys):
    model = _prelu_h5(tmp_path / "prelu.h5")
    common = ["--classes", "3", "--calib-data", str(byom["data"]), "--calib-count", "2", "--no-lint"]
    rc = main(["convert", str(model), "--all", *common, "--out", str(tmp_path / "all")])
    out = capsys.readouterr().out
    assert rc == 0, out
    written = {p.name for p in (tmp_path / "all").iterdir()}
    skipped = [ln for ln in out.splitlines() if "SKIPPED" in ln]
    assert skipped and all(ln.split()[0] not in written for ln in skipped)
    for art in [n for n in written if not n.endswith(".json")]:
        assert f"{art}.json" in written  # every written artifact has its manifest
    assert "prelu_fp32.tflite" in written and "prelu_int8.tflite" in written
    target = skipped[0].split()[0]
    flag = "--" + target.replace("-", "_").replace("_", "-")
    rc = main(["convert", str(model), "--fp32", flag, *common, "--out", str(tmp_path / "named")])
    captured = capsys.readouterr()
    assert rc == 1 and f"error: {target}:" in captured.err and "FAILED" in captured.out
    assert (tmp_path / "named" / "prelu_fp32.tflite.json").is_file()


def test_keras_hub_missing_is_one_line(byom, monkeypatch):
    from edgeseg.errors import ModelError
    from edgeseg.export.sources import open_source

    monkeypatch.setitem(sys.modules, "keras_hub", None)  # import keras_hub -> ImportError
    with pytest.raises(ModelError, match=r"keras-hub, which is not installed: pip install 'edgeseg\[hub\]'") as err:
        open_source(byom["deeplab"]["keras"])
    assert "\n" not in str(err.value)
