"""`edgeseg bench MODEL.h5 --matrix` end to end on the tiny model: convert, bench every runtime, write
the table, JSON, CSV and plots."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from edgeseg.cli.main import main

FAST = ["--runs", "3", "--min-time", "0.05", "--warmup-runs", "1", "--warmup-time", "0"]


def test_matrix_end_to_end(tiny: dict[str, Path], samples_dir: Path, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "matrix"
    rc = main(["bench", str(tiny["h5"]), "--matrix", "--data", str(samples_dir), "--calib-data", str(samples_dir),
               "--targets", "fp32,int8,onnx", "--threads", "1", *FAST, "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap
    data = json.loads((out / "matrix.json").read_text())
    # progress per step on stderr: each conversion, then each measurement
    n = len(data["rows"]) + len(data["failures"])
    for line in ("convert 1/3: tiny.h5 -> fp32", "convert 3/3: tiny.h5 -> onnx",
                 f"bench 1/{n}: tiny.h5 [keras, 1 threads]", f"bench {n}/{n}: "):
        assert line in cap.err, cap.err
    rows = {(r["format"], r["precision"], r["runtime"]): r for r in data["rows"]}
    expected = {("h5", "fp32", "keras"), ("tflite", "fp32", "litert"), ("tflite", "fp32", "litert-compiled"),
                ("tflite", "int8", "litert"), ("tflite", "int8", "litert-compiled"), ("onnx", "fp32", "onnxruntime")}
    from edgeseg.runtime import vulkan

    gpu = vulkan.devices()  # with a Vulkan device the matrix adds LiteRT's GPU accelerator (a software one too)
    if gpu:
        expected |= {("tflite", "fp32", "litert-compiled/gpu"), ("tflite", "int8", "litert-compiled/gpu")}
    assert set(rows) == expected, sorted(rows)
    for key in [k for k in rows if k[2] == "litert-compiled/gpu"]:
        assert rows[key]["device"].startswith(gpu[0]["name"].split(" (")[0]), rows[key]
        assert ("software" in rows[key]["device"]) is gpu[0]["software"]
    keras = rows[("h5", "fp32", "keras")]
    assert 0.0 <= keras["mIoU %"] <= 100.0 and keras["dmIoU vs Keras (pts)"] == 0
    # percent, not a fraction: the row equals the result's miou_pct, which is 100x core.metrics' fraction
    res = next(r for r in data["results"] if r["runtime"] == "keras")
    assert keras["mIoU %"] == pytest.approx(res["miou_pct"], abs=0.006) and "miou" not in res
    assert all(r["threads"] == 1 for r in data["rows"])
    # same predictions, same score, whatever the runtime: the float files match Keras
    for key in (("tflite", "fp32", "litert"), ("tflite", "fp32", "litert-compiled"), ("onnx", "fp32", "onnxruntime")):
        assert rows[key]["mIoU %"] == pytest.approx(keras["mIoU %"], abs=0.2), key
        assert rows[key]["dmIoU vs Keras (pts)"] == pytest.approx(rows[key]["mIoU %"] - keras["mIoU %"], abs=0.02)
    for r in rows.values():
        assert r["p50 ms"] > 0 and r["peak RSS MB"] > 0 and r["size MB"] > 0
    assert rows[("tflite", "int8", "litert")]["% ops delegated"] > 0
    with (out / "matrix.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == len(rows)
    md = (out / "matrix.md").read_text()
    assert "| format" in md and "tiny_int8.tflite" in md
    if gpu and gpu[0]["software"]:  # its latency is marked, and kept off the latency axis
        assert "not GPU speed" in md and "left out of the latency plot" in md
    for png in ("latency_vs_miou.png", "per_class_iou_delta.png", "confusion_best.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    assert any((out / "overlays").rglob("*.png"))
    assert all((d / "legend.png").is_file() for d in (out / "overlays").iterdir())  # what each colour means


def test_matrix_unknown_target_is_one_line(tiny: dict[str, Path], samples_dir: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["bench", str(tiny["h5"]), "--matrix", "--data", str(samples_dir), "--targets", "fp32,warp9",
               "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert rc == 2 and "warp9" in err and "Traceback" not in err and err.count("\n") == 1


def test_matrix_ctrl_c_keeps_measured_rows(tiny: dict[str, Path], samples_dir: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    """Ctrl-C during the second measurement: the first row is written to matrix.*, the rest named as left."""
    from edgeseg.bench import runner

    calls = []

    def first_then_ctrl_c(job, timeout=None):
        calls.append(job)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return runner.run_job(job)

    monkeypatch.setattr(runner, "run_isolated", first_then_ctrl_c)
    out = tmp_path / "m"
    rc = main(["bench", str(tiny["h5"]), "--matrix", "--data", str(samples_dir), "--targets", "fp32",
               "--threads", "1", *FAST, "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 130 and len(calls) == 2
    data = json.loads((out / "matrix.json").read_text())
    assert data["interrupted"] is True and [r["runtime"] for r in data["rows"]] == ["keras"]
    assert data["left"][:2] == ["tiny_fp32.tflite [litert, 1 threads]", "tiny_fp32.tflite [litert-compiled, 1 threads]"]
    assert all(name.startswith("tiny_fp32.tflite [") for name in data["left"])
    assert "interrupted: 1 row(s) measured and written; left: tiny_fp32.tflite [litert, 1 threads]" in err
    assert (out / "matrix.md").is_file() and (out / "artifacts" / "tiny_fp32.tflite.json").is_file()
