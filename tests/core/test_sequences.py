"""Whole-sequence data selection: sequence names, several splits as one set, held-out sequences (train CLI too)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgeseg.cli.main import main
from edgeseg.core.dataset import concat_datasets, hold_out, resolve_dataset, sequence_of
from edgeseg.core.presets import CAMVID
from edgeseg.errors import DataError


def _segnet(root: Path, split: str, stems: list[str]) -> None:
    rng = np.random.default_rng(len(stems))
    for sub in (split, f"{split}annot"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for stem in stems:
        Image.fromarray(rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)).save(root / split / f"{stem}.png")
        Image.fromarray(rng.integers(0, 11, (32, 48), dtype=np.uint8)).save(root / f"{split}annot" / f"{stem}.png")


@pytest.fixture
def camvid_like(tmp_path: Path) -> Path:
    """SegNet layout: train holds sequences A (4) and B (2) and C_x (2); val holds 3 more frames of A."""
    root = tmp_path / "ds"
    _segnet(root, "train", ["A_001", "A_002", "A_003", "A_004", "B_001", "B_002", "C_x_001", "C_x_002"])
    _segnet(root, "val", ["A_101", "A_102", "A_103"])
    return root


def test_sequence_is_the_stem_before_its_last_underscore() -> None:
    assert sequence_of("0016E5_07959") == "0016E5"
    assert sequence_of("Seq05VD_f00420") == "Seq05VD"
    assert sequence_of("city_a_000012") == "city_a"
    assert sequence_of("frame12") == "frame12"
    assert sequence_of("_07959") == "_07959"


def test_splits_concatenate_and_sequences_are_counted(camvid_like: Path) -> None:
    train = resolve_dataset(camvid_like, CAMVID, split="train")
    both = concat_datasets([train, resolve_dataset(camvid_like, CAMVID, split="val")])
    assert len(both) == 11 and both.sequences() == {"A": 7, "B": 2, "C_x": 2}
    assert train.sequences() == {"A": 4, "B": 2, "C_x": 2}
    with pytest.raises(DataError, match="A_001"):
        concat_datasets([train, train])


def test_hold_out_moves_whole_sequences(camvid_like: Path) -> None:
    ds = resolve_dataset(camvid_like, CAMVID, split="train")
    kept, held = hold_out(ds, ["B", " C_x"])
    assert [s.stem for s in held.samples] == ["B_001", "B_002", "C_x_001", "C_x_002"]
    assert kept.sequences() == {"A": 4}
    assert not {s.stem for s in kept.samples} & {s.stem for s in held.samples}
    with pytest.raises(DataError, match="matches no frame .*A, B, C_x"):
        hold_out(ds, ["0001TP"])
    with pytest.raises(DataError, match="leaves no frame"):
        hold_out(ds, ["A", "B", "C"])


def test_train_cli_holds_out_and_records_the_sequences(camvid_like: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    args = ["train", "--model", "unet", "--model-option", "depth=2", "--model-option", "base_width=4",
            "--data", str(camvid_like), "--split", "train,val", "--val-holdout", "B", "--input-size", "32x48",
            "--batch-size", "3", "--epochs", "1", "--precision", "fp32", "--quiet", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "training on 9 frames (A 7, C_x 2); validating on 2 (B 2)" in printed
    assert "best val mIoU" in printed and " %" in printed
    data = json.loads((out / "manifest.json").read_text())["dataset"]
    assert data["sequences"] == {"A": 7, "C_x": 2} and data["val_sequences"] == {"B": 2}
    assert data["count"] == 9 and data["val_count"] == 2 and data["val_holdout"] == "B"
    assert Path(data["path"]).is_absolute()


@pytest.mark.parametrize("extra, message", [
    (["--val-holdout", "B", "--val-split", "val"], "not both"),
    (["--val-holdout", "Z"], "matches no frame"),
])
def test_bad_selections_are_one_line_errors(camvid_like: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                           extra: list[str], message: str) -> None:
    code = main(["train", "--model", "unet", "--data", str(camvid_like), "--input-size", "32x48", "--quiet",
                 "--out", str(tmp_path / "r"), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and err.count("\n") == 0
    assert not (tmp_path / "r" / "last.h5").exists()


def test_a_held_out_run_calibrates_on_its_training_frames_and_verifies_on_the_held_out_ones(camvid_like: Path) -> None:
    """Calibrating on the held-out frames would flatter the int8 drop measured on them."""
    from edgeseg.core.manifest import Manifest
    from edgeseg.data.calibration import dataset_from_manifest

    manifest = Manifest(CAMVID, dataset={"path": str(camvid_like), "split": "train,val", "val_holdout": "B,C_x"})
    calib = dataset_from_manifest(manifest, CAMVID)
    assert calib is not None and calib.sequences() == {"A": 7}
    verify = dataset_from_manifest(manifest, CAMVID, split="val")
    assert verify is not None and verify.sequences() == {"B": 2, "C_x": 2}


def test_bench_and_inspect_score_only_the_named_sequences(camvid_like: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    from edgeseg.bench.runner import BenchJob, DatasetRef, _dataset
    from edgeseg.core.dataset import only_sequences

    ds = resolve_dataset(camvid_like, CAMVID, split="train")
    assert only_sequences(ds, "B").sequences() == {"B": 2}
    assert only_sequences(ds, ["A", "C_x"]).sequences() == {"A": 4, "C_x": 2}
    with pytest.raises(DataError, match="matches no frame"):
        only_sequences(ds, "Z")
    job = BenchJob(artifact="x.tflite", dataset={"folder": str(camvid_like), "split": "train", "sequences": "B"})
    assert job.dataset == DatasetRef(str(camvid_like), "train", None, None, "B")
    assert [s.stem for s in _dataset(job, CAMVID).samples] == ["B_001", "B_002"]
    assert main(["data", "inspect", str(camvid_like), "--split", "train", "--sequences", "C_x", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 2
