"""`edgeseg train` end to end on the sample frames: outputs, manifest, resume, seed, distribution, learning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgeseg.cli.main import main
from edgeseg.core.manifest import find_model_manifest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "camvid"
TINY = ["--model", "unet", "--model-option", "depth=2", "--model-option", "base_width=4",
        "--images", str(SAMPLES / "images"), "--masks", str(SAMPLES / "masks"), "--input-size", "48x64",
        "--batch-size", "4", "--steps-per-epoch", "2", "--quiet"]


def test_train_writes_models_history_and_manifest(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "2", "--out", str(out), "--loss", "combo",
                 "--class-weights", "median", "--optimizer", "sgd", "--schedule", "cosine"]) == 0
    for name in ("best.h5", "last.h5", "last.state.npz", "history.csv", "manifest.json"):
        assert (out / name).is_file(), name
    rows = (out / "history.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,loss,val_miou") and len(rows) == 3
    m = find_model_manifest(out / "best.h5")
    assert m is not None and m["model"]["architecture"] == "unet" and m["model"]["output_stride"] == 4
    assert m["model"]["input_size"] == [48, 64] and m.spec.input_size == (48, 64)
    assert m["training"]["epochs_done"] == 2 and len(m["training"]["class_weights"]) == 11
    assert m["dataset"]["count"] == 11
    # Resume: train two more epochs from last.h5 with the stored arguments.
    assert main(["train", "--out", str(out), "--resume", "--epochs", "4", "--quiet"]) == 0
    m = find_model_manifest(out / "last.h5")
    assert m["training"]["epochs_done"] == 4
    assert len((out / "history.csv").read_text().splitlines()) == 5
    # QAT fine-tuning of the trained float model, from the CLI, end to end.
    qat = tmp_path / "qat"
    assert main(["train", "--qat", "--from", str(out / "best.h5"), "--epochs", "1", "--images", str(SAMPLES / "images"),
                 "--masks", str(SAMPLES / "masks"), "--batch-size", "4", "--steps-per-epoch", "2", "--quiet",
                 "--out", str(qat)]) == 0
    m = find_model_manifest(qat / "best.h5")
    assert m["quantization"]["qat"] is True and m["quantization"]["unquantised_layers"] == []
    assert m["model"]["architecture"] == "unet" and m["model"]["input_size"] == [48, 64]
    from edgeseg.train.outputs import load_model

    model = load_model(qat / "best.h5")
    assert any("Quantize" in type(layer).__name__ for layer in model.layers)
    # The QAT .h5 converts with `edgeseg convert` to full-integer TFLite (tfmot classes allowed).
    conv = tmp_path / "conv"
    assert main(["convert", str(qat / "best.h5"), "--int8", "--calib-data", str(SAMPLES), "--calib-count", "4",
                 "--no-lint", "--out", str(conv)]) == 0
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(conv / "best_int8.tflite"))
    details = interp._get_ops_details()
    dtypes = {t["index"]: t["dtype"] for t in interp.get_tensor_details()}
    names = [op["op_name"] for op in details]
    # float I/O: one DEQUANTIZE at the output; every op between the input QUANTIZE and it is integer
    assert "CONV_2D" in names and names.count("DEQUANTIZE") == 1, names
    inner = [op for op in details if op["op_name"] != "DEQUANTIZE"][1:]
    assert all(dtypes[i] in (np.int8, np.int32) for op in inner for i in op["inputs"] if i >= 0), names


def test_user_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--out", str(tmp_path / "x"), "--images", str(SAMPLES / "images"),
                 "--masks", str(SAMPLES / "masks")]) == 2
    assert main(["train", *TINY, "--out", str(tmp_path / "y"), "--crop", "30x30"]) == 2
    assert main(["train", "--out", str(tmp_path / "z"), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 3 and "Traceback" not in err


def _run(args: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "edgeseg", "train", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _free_ports(n: int) -> list[int]:
    import socket

    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_seeded_mirrored_and_multi_worker_runs(tmp_path: Path) -> None:
    """Five `edgeseg train` processes started together (their TensorFlow start-ups overlap): two
    seeded runs that must agree bit for bit, a MirroredStrategy run over 2 logical CPUs, and a
    two-worker MultiWorkerMirroredStrategy cluster on localhost."""
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    procs = [_run([*TINY, "--epochs", "1", "--seed", "7", "--out", str(a)]),
             _run([*TINY, "--epochs", "1", "--seed", "7", "--out", str(b)]),
             _run([*TINY, "--epochs", "1", "--strategy", "mirrored", "--cpu-replicas", "2", "--out", str(c)])]
    for i in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}))
        procs.append(_run([*TINY, "--epochs", "1", "--strategy", "multiworker", "--out", str(tmp_path / f"w{i}")],
                          env=env))
    outs = [p.communicate(timeout=240)[0] for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-2000:]
    import h5py

    with h5py.File(a / "last.h5") as fa, h5py.File(b / "last.h5") as fb:
        names: list[str] = []
        fa["model_weights"].visit(lambda n: names.append(n) if isinstance(fa["model_weights"][n], h5py.Dataset) else None)
        assert names
        for n in names:
            np.testing.assert_array_equal(fa["model_weights"][n][()], fb["model_weights"][n][()])
    assert json.loads((c / "manifest.json").read_text())["training"]["replicas"] == 2
    assert json.loads((tmp_path / "w0" / "manifest.json").read_text())["training"]["replicas"] == 2
    assert not (tmp_path / "w1" / "last.h5").exists()  # only the chief writes


@pytest.mark.slow
def test_learns_sample_frames() -> None:
    """Overfit 8 CamVid frames at 96x128: pixel accuracy >= 85 % within 200 steps (about 12 s on 2
    idle cores: U-Net of 121k parameters, on CPU XLA for the loss only, several steps per graph call)."""
    from edgeseg import models
    from edgeseg._keras import keras, tf
    from edgeseg.core.dataset import FolderDataset
    from edgeseg.core.presets import CAMVID
    from edgeseg.data.augment import Augment
    from edgeseg.data.pipeline import FrameCache, PipelineConfig, eval_dataset
    from edgeseg.train.evaluate import evaluate
    from edgeseg.train.loop import Trainer, TrainConfig
    from edgeseg.train.optim import OptimConfig

    keras.utils.set_random_seed(0)
    frames = FrameCache(FolderDataset(SAMPLES / "images", SAMPLES / "masks", CAMVID).subset(8))
    pipe = PipelineConfig(input_size=(96, 128), output_stride=8, augment=Augment.none())
    # Weight seeds 0, 1, 2, 4 reached 0.94, 0.89, 0.95, 0.90. At 140 steps
    # and lr 5e-3 they spread over 0.85-0.93, and float-rounding changes (XLA's fused loss) moved one
    # seed from 0.92 to 0.85: the bar sits below the spread, not inside it.
    steps = 200
    cfg = TrainConfig(epochs=steps, batch_size=8, optim=OptimConfig(lr=3e-3, schedule="constant"), seed=1)
    trainer = Trainer(lambda: models.build("unet", 11, (96, 128), depth=3, base_width=8, batch_norm=False),
                      CAMVID, pipe, cfg, frames)
    summary = trainer.fit()
    assert int(trainer.optimizer.iterations.numpy()) == steps == summary.epochs_done
    if not tf.config.list_logical_devices("GPU"):
        assert trainer.jit is False  # CPU: the step runs without XLA unless asked for (the loss with it)
    acc = evaluate(trainer.model, eval_dataset(frames, pipe, 8), CAMVID).pixel_accuracy
    assert acc >= 0.85, acc
