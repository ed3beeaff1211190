"""Accuracy path against core.metrics, runtime-independence, bench --data JSON, predict PNGs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgeseg import runtime
from edgeseg.bench.accuracy import evaluate
from edgeseg.cli.main import main
from edgeseg.core.dataset import FolderDataset
from edgeseg.core.metrics import ConfusionMatrix
from edgeseg.core.presets import CAMVID
from edgeseg.core.preprocess import preprocess, resize_nearest

SPEC = CAMVID.with_(input_size=(64, 64))


@pytest.fixture(scope="module")
def samples(samples_dir):
    return FolderDataset(samples_dir / "images", samples_dir / "masks", SPEC).subset(4)


def test_accuracy_matches_core_metrics(tiny, samples):
    be = runtime.load(tiny["fp32"], threads=1)
    res = evaluate(be, samples, SPEC, keep=2)
    cm = ConfusionMatrix(SPEC.num_classes, SPEC.void_index)
    for i in range(len(samples)):
        image, mask = samples.read(i)
        logits = be.run(preprocess(image, SPEC, (64, 64))[None])[0]
        pred = resize_nearest(np.argmax(logits, -1), mask.shape)
        assert pred.shape == mask.shape == (360, 480)
        cm.update(mask, pred)
    assert np.array_equal(res.matrix, cm.matrix)
    assert res.scores.miou == pytest.approx(cm.scores().miou)
    assert len(res.kept) == 2 and next(iter(res.kept.values())).shape == (360, 480)
    onnx = evaluate(runtime.load(tiny["onnx"], threads=1), samples, SPEC)
    assert onnx.scores.miou == pytest.approx(res.scores.miou, abs=1e-3)


def test_bench_json_with_data(tiny, samples_dir, tmp_path, capsys):
    out = tmp_path / "b.json"
    rc = main(["bench", str(tiny["onnx"]), "--data", str(samples_dir), "--runs", "3", "--min-time", "0",
               "--warmup-time", "0", "--threads", "1", "--json-out", str(out)])
    assert rc == 0
    r = json.loads(out.read_text())
    assert r["runtime"] == "onnxruntime" and r["threads"] == 1 and r["images"] == 11
    assert 0 <= r["miou_pct"] <= 100 and set(r["per_class_iou_pct"]) == set(CAMVID.class_names)
    assert 0 <= r["pixel_accuracy_pct"] <= 100 and r["latency_ms"]["p50"] > 0
    assert set(r["per_class_precision_pct"]) == set(CAMVID.class_names) and "miou" not in r
    scores = [v for v in r["per_class_iou_pct"].values() if v is not None]
    assert r["miou_pct"] == pytest.approx(sum(scores) / len(scores))
    stdout = capsys.readouterr().out
    assert "p50 ms" in stdout
    assert "mIoU %" in stdout
    # the per-class table: one row per class, IoU / precision / recall in %, as in the JSON
    row = next(line.split() for line in stdout.splitlines() if line.startswith("Road "))
    want = [r[k]["Road"] for k in ("per_class_iou_pct", "per_class_precision_pct", "per_class_accuracy_pct")]
    assert [float(v) for v in row[1:]] == pytest.approx(want, abs=0.051)


def test_threads_sweep_isolated_and_failure_collected(tiny, tmp_path):
    out = tmp_path / "s.json"
    rc = main(["bench", str(tiny["fp32"]), str(tiny["dynamic"]), "--backend", "litert-compiled", "--threads", "1,2",
               "--runs", "3", "--min-time", "0", "--warmup-time", "0", "--json", str(out)])
    r = json.loads(out.read_text())
    assert rc == 1  # the dynamic-shape model fails on CompiledModel; the rest is reported
    assert [x["threads"] for x in r["results"]] == [1, 2]
    assert len(r["failures"]) == 2 and "fixed batch" in r["failures"][0]["error"]


def test_predict_writes_palette_mask_and_overlay(tiny, samples_dir, tmp_path):
    from PIL import Image

    img = samples_dir / "images" / "0016E5_07959.jpg"
    assert main(["predict", str(tiny["int8"]), str(img), "--out", str(tmp_path)]) == 0
    with Image.open(tmp_path / "0016E5_07959.mask.png") as m:
        assert m.mode == "P" and m.size == (480, 360)
        assert m.getpalette()[:6] == [128, 128, 128, 128, 0, 0]
        assert np.asarray(m).max() < 11
    with Image.open(tmp_path / "0016E5_07959.overlay.png") as o:
        assert o.mode == "RGB" and o.size == (480, 360)
