"""The training request: JSON round trip, versions, old runs' ``training.args``, no argparse in train/, exit codes."""

from __future__ import annotations

import ast
import json
import sys
import types
from dataclasses import replace
from pathlib import Path

import pytest

from edgeseg.cli.main import main
from edgeseg.errors import SpecError, UsageError
from edgeseg.train.legacy_args import args_of, request_from_args
from edgeseg.train.request import (REQUEST_VERSION, AugmentRequest, DataRequest, ModelRequest, OptimRequest,
                                   TrainRequest, TrainResult, request_from_training)

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "camvid"
# runs/enet-holdout-0001TP-killed/manifest.json's training.args as the code of the day wrote it (vars(args)): from
# before --saturation, --gamma, --channel-gain and --val-every; precision "auto" as given.
OLD_ARGS = {
    "batch_size": 8, "class_weights": "none", "command": "train", "cpu_replicas": None, "crop": "240x320",
    "dataset": "../shared/camvid", "ema": 0.995, "epochs": 80, "fit": "resize", "images": None, "init": None,
    "input_size": "360x480", "jit": "auto", "label_remap": None, "loss": "combo", "lr": 0.002, "masks": None,
    "model": "enet", "model_option": ["activation=relu"], "momentum": 0.9, "no_augment": False, "optimizer": "adam",
    "out": "runs/enet-holdout", "precision": "auto", "preset": None, "qat": False, "quiet": True, "resume": False,
    "rotation": 5.0, "scale": "0.5,2.0", "schedule": "cosine", "seed": 1, "spec": None, "split": "train,val",
    "steps_per_epoch": None, "steps_per_execution": None, "strategy": "none", "threads": 2, "val_holdout": "0001TP",
    "val_split": None, "verbose": 0, "warmup_epochs": 1.0, "weight_decay": 0.0001,
}


def _full_request() -> TrainRequest:
    """A request with no field at its default, so a field the round trip drops shows."""
    return TrainRequest(
        out=Path("runs/x"),
        model=ModelRequest("unet", {"depth": 2, "act": "relu", "blocks": [1, 2]}, Path("a.h5"), True),
        data=DataRequest(Path("data"), ("train", "val"), None, ("0001TP", "0006R0"), Path("i"), Path("m"), "camvid",
                         Path("s.json"), {1: 0, 2: 1}, (48, 64), (32, 32), "pad"),
        augment=AugmentRequest(False, (0.5, 2.0), 3.0, 0.2, 0.3, 0.1, 1.5, 0.05),
        optim=OptimRequest("sgd", 0.02, 0.8, 1e-4, "cosine", 1.5, 0.99), loss="ce+dice", class_weights="median",
        epochs=7, batch_size=3, steps_per_epoch=5, val_every=2, seed=9, precision="bf16", jit="off",
        steps_per_execution=4, threads=2, strategy="mirrored", cpu_replicas=2)


def test_request_round_trips_through_json() -> None:
    req = _full_request()
    stored = json.loads(json.dumps(req.to_dict()))
    assert stored["version"] == REQUEST_VERSION
    assert TrainRequest.from_dict(stored) == req
    assert TrainRequest.from_dict(TrainRequest(out=Path("o")).to_dict()) == TrainRequest(out=Path("o"))
    # the version-0 view written under training.args reads back to the same request too
    assert request_from_args(json.loads(json.dumps(args_of(req)))) == req


def test_request_versions_and_fields_are_checked() -> None:
    stored = TrainRequest(out=Path("o")).to_dict()
    with pytest.raises(SpecError, match="newer"):
        TrainRequest.from_dict({**stored, "version": REQUEST_VERSION + 1})
    with pytest.raises(SpecError, match="version"):
        TrainRequest.from_dict({k: v for k, v in stored.items() if k != "version"})
    with pytest.raises(SpecError, match="unknown field"):
        TrainRequest.from_dict({**stored, "optim": {**stored["optim"], "learning_rate": 1.0}})
    with pytest.raises(UsageError, match="--val-split or --val-holdout"):
        replace(_full_request(), data=DataRequest(Path("d"), val_split="val", val_holdout=("0001TP",))).check()


def test_old_runs_training_args_read_as_a_request() -> None:
    """Version 0: the flags of an old run (absent flags take their defaults; a missing precision is fp32)."""
    req = request_from_training({"args": OLD_ARGS})
    assert req.model == ModelRequest("enet", {"activation": "relu"})
    assert req.data.splits == ("train", "val") and req.data.val_holdout == ("0001TP",)
    assert req.data.input_size == (360, 480) and req.data.crop == (240, 320)
    assert req.augment == AugmentRequest(scale=(0.5, 2.0))  # colour flags of later versions: their defaults
    assert req.optim == OptimRequest("adam", 0.002, 0.9, 1e-4, "cosine", 1.0, 0.995)
    assert (req.epochs, req.seed, req.threads, req.val_every, req.precision) == (80, 1, 2, 1, "auto")
    assert request_from_args({k: v for k, v in OLD_ARGS.items() if k != "precision"}).precision == "fp32"
    # a manifest that holds both reads the versioned request
    assert request_from_training({"args": OLD_ARGS, "request": replace(req, epochs=5).to_dict()}).epochs == 5
    # every shipped model's manifest (written before the request existed) still reads and checks
    for manifest in sorted((ROOT / "models").glob("*/manifest.json")):
        request_from_training(json.loads(manifest.read_text())["training"]).check()


def test_train_package_never_sees_argparse() -> None:
    """No module of edgeseg/train imports argparse, names a Namespace or reads sys.argv (the CLI's business)."""
    sources = sorted((ROOT / "edgeseg" / "train").glob("*.py"))
    assert len(sources) > 5
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] != "argparse" for a in node.names), path.name
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] != "argparse", path.name
            elif isinstance(node, ast.Attribute):
                assert node.attr not in ("Namespace", "argv"), f"{path.name}:{node.lineno}"
            elif isinstance(node, ast.Name):
                assert node.id != "Namespace", f"{path.name}:{node.lineno}"


@pytest.mark.parametrize("interrupted, miou, code, text", [
    (True, 0.5, 130, "interrupted: saved"),
    (False, 0.5, 0, "best val mIoU 50.00 %"),
    (False, float("nan"), 0, "train loss 0.2500"),
])
def test_cli_reports_the_result_and_picks_the_exit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str], interrupted: bool,
                                                        miou: float, code: int, text: str) -> None:
    """`edgeseg train` hands train() a TrainRequest (no Namespace), prints its result, and exits 130 after Ctrl-C."""
    seen = {}

    def fake_train(request, spec, **kwargs):
        seen.update(request=request, **kwargs)
        return TrainResult(request.out, 4, 2, 2, miou, 0.25, 1.0, interrupted, request.out / "best.h5",
                           request.out / "last.h5", validated=miou == miou)

    monkeypatch.setitem(sys.modules, "edgeseg.train.session", types.SimpleNamespace(train=fake_train))
    out = tmp_path / "run"
    assert main(["train", "--model", "unet", "--images", str(SAMPLES / "images"), "--masks", str(SAMPLES / "masks"),
                 "--epochs", "4", "--out", str(out), "--quiet"]) == code
    assert text in capsys.readouterr().out
    assert isinstance(seen["request"], TrainRequest) and seen["request"].out == out and seen["quiet"] is True
    assert seen["resume"] is False and seen["request"].epochs == 4


def test_resume_of_a_run_written_before_the_request(tmp_path: Path) -> None:
    """A run whose manifest has only ``training.args`` (vars(args), as the code before the request wrote it)
    resumes, and from then on stores the versioned request."""
    out = tmp_path / "run"
    tiny = ["--model", "unet", "--model-option", "depth=2", "--model-option", "base_width=4", "--images",
            str(SAMPLES / "images"), "--masks", str(SAMPLES / "masks"), "--input-size", "48x64", "--batch-size", "4",
            "--steps-per-epoch", "2", "--quiet", "--seed", "3", "--precision", "fp32"]
    assert main(["train", *tiny, "--epochs", "1", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    training = manifest["training"]
    del training["request"]
    training["args"] = {**OLD_ARGS, "model": "unet", "model_option": ["depth=2", "base_width=4"], "dataset": None,
                        "images": str(SAMPLES / "images"), "masks": str(SAMPLES / "masks"), "input_size": "48x64",
                        "crop": None, "batch_size": 4, "steps_per_epoch": 2, "epochs": 1, "seed": 3, "threads": None,
                        "split": "train", "val_holdout": None, "ema": 0.0, "precision": "fp32", "out": "elsewhere",
                        "lr": None, "quiet": True}
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--quiet"]) == 0
    resumed = json.loads((out / "manifest.json").read_text())
    assert resumed["model"] == manifest["model"]  # options included (a resume once dropped them)
    training = resumed["training"]
    assert training["epochs_done"] == 2 and training["request"]["version"] == REQUEST_VERSION
    req = TrainRequest.from_dict(training["request"])
    assert req.out == out and req.epochs == 2 and req.model.options == {"depth": 2, "base_width": 4}
    assert req.optim.lr is None and req.optim.schedule == "cosine" and req.augment.scale == (0.5, 2.0)
    assert training["args"]["out"] == str(out) and training["args"]["model_option"] == ["depth=2", "base_width=4"]
    # the command that started the run is kept; the resume's own command line follows it
    assert training["command"].startswith(manifest["training"]["command"] + " ; ")


def test_augment_request_defaults_are_the_augmentations() -> None:
    """AugmentRequest repeats Augment's fields without importing TensorFlow; the defaults must not drift."""
    from dataclasses import fields

    from edgeseg.data.augment import Augment

    request, augment = AugmentRequest(), Augment()
    shared = {f.name for f in fields(AugmentRequest)} - {"enabled"}
    assert shared == {f.name for f in fields(Augment)} - {"hflip"}
    for name in sorted(shared):
        assert getattr(request, name) == getattr(augment, name), name
