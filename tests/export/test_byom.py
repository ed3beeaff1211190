"""Bring your own model: Keras 3 .keras / .h5, SavedModel and keras-hub segmenters through convert --all and bench."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeseg.cli.main import main
from edgeseg.core.manifest import Manifest
from edgeseg.export.registry import list_targets

CALIB = "3"
#: The target suffix of each artifact (``<stem><suffix>``).
SUFFIX = {"fp32": "_fp32.tflite", "fp16": "_fp16.tflite", "dynamic": "_dynamic_int8.tflite", "int8": "_int8.tflite",
          "int16x8": "_int16x8.tflite", "onnx": ".onnx", "onnx-fp16": "_fp16.onnx", "onnx-int8": "_int8.onnx"}


def _convert(model: Path, out: Path, data: Path, *flags: str) -> tuple[int, dict]:
    js = out / "result.json"
    out.mkdir(parents=True, exist_ok=True)
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["convert", str(model), *flags, "--calib-data", str(data), "--calib-count", CALIB,
                   "--verify-data", str(data), "--out", str(out), "--json", "--no-lint"])
    js.write_text(buf.getvalue())
    return rc, (json.loads(buf.getvalue()) if buf.getvalue().strip() else {})


def test_keras3_and_tf_keras_live_side_by_side():
    from edgeseg import _keras, _keras3

    assert _keras3.keras.__version__.split(".")[0] == "3"
    assert type(_keras.keras.layers.Dense(1)).__module__.startswith("tf_keras")
    assert type(_keras3.keras.layers.Dense(1)).__module__.startswith("keras")


@pytest.mark.parametrize("name", ["unet", "deeplab", "segformer"])
def test_convert_all_from_keras3(byom, name, tmp_path, capsys):
    rc, res = _convert(byom[name]["keras"], tmp_path, byom["data"], "--all", "--classes", "3")
    assert rc == 0, capsys.readouterr().err[-2000:]
    written = {r["target"]: r for r in res["artifacts"]}
    skipped = {o["target"] for o in res["not_written"]}
    assert set(written) | skipped == set(list_targets()) and not [o for o in res["not_written"]
                                                                   if o["status"] != "skipped"]
    assert {"fp32", "int8", "onnx"} <= set(written)
    assert all(o["reason"] for o in res["not_written"])  # e.g. SegFormer's int16x8: no 16x8 NEG kernel
    if name == "segformer":  # ORT cannot run LayerNorm's mean as QLinearGlobalAveragePool: kept in float
        assert written["onnx-int8"]["quantization"]["float_op_types"] == ["GlobalAveragePool"]
    for target, r in written.items():
        path = Path(r["path"])
        assert path.name == f"{name}{SUFFIX[target]}" and path.is_file()
        m = Manifest.load(r["manifest"])
        assert m.spec.num_classes == 3 and m.get("source")["kind"] == "Keras 3 .keras"
        assert m.get("artifact")["channels"] == 3 and m.get("spec_source")["classes"] == "--classes"
        assert r["parity"]["images"] == 4 and "miou_keras_pct" in r["parity"]
    assert written["fp32"]["parity"]["passed"] and written["onnx"]["parity"]["passed"]
    assert written["int8"]["parity"]["agreement_pct"] > 80
    if name == "unet":  # a Rescaling layer first: the model takes raw pixels, so uint8 I/O is exact
        assert Manifest.load(written["int8"]["manifest"]).get("spec_source")["normalization"].startswith("raw")
        assert "raw pixels" in capsys.readouterr().err


def test_saved_forms_give_the_same_int8_parity(byom, tmp_path):
    results = {}
    for form in ("keras", "h5", "savedmodel"):
        rc, res = _convert(byom["unet"][form], tmp_path / form, byom["data"], "--int8", "--onnx", "--classes", "3")
        assert rc == 0
        results[form] = {r["target"]: r for r in res["artifacts"]}
    kinds = {form: Manifest.load(r["int8"]["manifest"]).get("source")["kind"] for form, r in results.items()}
    assert kinds == {"keras": "Keras 3 .keras", "h5": "Keras 3 .h5", "savedmodel": "SavedModel"}
    ref = results["keras"]["int8"]["parity"]
    for form in ("h5", "savedmodel"):
        par = results[form]["int8"]["parity"]
        assert par["agreement_pct"] == pytest.approx(ref["agreement_pct"], abs=0.05)
        assert par["miou_artifact_pct"] == pytest.approx(ref["miou_artifact_pct"], abs=0.1)
        assert results[form]["onnx"]["parity"]["passed"]


@pytest.mark.parametrize("name", ["deeplab", "segformer"])
def test_hub_savedmodel_converts(byom, name, tmp_path):
    rc, res = _convert(byom[name]["savedmodel"], tmp_path, byom["data"], "--fp32", "--int8", "--classes", "a,b,c")
    assert rc == 0
    by = {r["target"]: r for r in res["artifacts"]}
    assert by["fp32"]["parity"]["passed"] and Manifest.load(by["int8"]["manifest"]).spec.class_names == ("a", "b", "c")


def test_bench_measures_artifacts_beside_the_keras3_source(byom, tmp_path):
    out = tmp_path / "conv"
    rc, res = _convert(byom["unet"]["keras"], out, byom["data"], "--int8", "--onnx", "--classes", "3")
    assert rc == 0
    arts = [str(byom["unet"]["keras"])] + [r["path"] for r in res["artifacts"]]
    report = tmp_path / "bench.json"
    rc = main(["bench", *arts, "--data", str(byom["data"]), "--runs", "3", "--min-time", "0", "--warmup-time", "0",
               "--no-isolate", "--json", str(report)])
    assert rc == 0
    rows = {r["runtime"]: r for r in json.loads(report.read_text())["results"]}
    assert set(rows) == {"keras", "litert", "onnxruntime"}
    assert rows["keras"]["latency_ms"]["p50"] > 0
    # the Keras source has no manifest: bench takes the spec convert recorded, so its mIoU is the parity reference's
    keras_miou = res["artifacts"][0]["parity"]["miou_keras_pct"]
    assert rows["keras"]["miou_pct"] == pytest.approx(keras_miou, abs=0.01)
    assert rows["onnxruntime"]["miou_pct"] == pytest.approx(res["artifacts"][1]["parity"]["miou_artifact_pct"], abs=0.01)


def test_grayscale_model_reads_frames_as_luminance(byom, tmp_path):
    from edgeseg._keras3 import keras

    keras.utils.set_random_seed(3)
    inp = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    model = keras.Model(inp, keras.layers.Conv2D(3, 1)(x), name="gray")
    src = tmp_path / "gray.keras"
    model.save(src)
    rc, res = _convert(src, tmp_path / "out", byom["data"], "--fp32", "--int8", "--onnx", "--classes", "3")
    assert rc == 0
    by = {r["target"]: r for r in res["artifacts"]}
    assert by["int8"]["input"]["shape"] == [1, 32, 32, 1] and by["fp32"]["parity"]["passed"]
    assert Manifest.load(by["int8"]["manifest"]).get("artifact")["channels"] == 1
    report = tmp_path / "bench.json"
    assert main(["bench", str(src), by["int8"]["path"], "--data", str(byom["data"]), "--runs", "2", "--min-time", "0",
                 "--warmup-time", "0", "--no-isolate", "--json", str(report)]) == 0
    rows = json.loads(report.read_text())["results"]
    assert all(r["miou_pct"] is not None for r in rows)
    assert main(["predict", by["onnx"]["path"], str(byom["data"] / "images"), "--out", str(tmp_path / "pred")]) == 0
    assert len(list((tmp_path / "pred").rglob("*.png"))) >= 4


def test_lint_and_a_quiet_terminal(byom, tmp_path, capfd):
    for form in ("keras", "savedmodel"):
        assert main(["lint", str(byom["unet"][form]), "--json"]) in (0, 1)
        report = json.loads(capfd.readouterr().out)
        assert report["ops"].get("CONV_2D", 0) >= 9 and report["xnnpack"]["total"] > 0
    rc, _ = _convert(byom["unet"]["keras"], tmp_path, byom["data"], "--fp32", "--int8", "--classes", "3")
    assert rc == 0
    err = capfd.readouterr().err.splitlines()
    noise = [ln for ln in err if ln.startswith(("E0000", "W0000", "I0000", "WARNING", "INFO:")) or "Warning" in ln]
    assert not noise and any(ln.startswith("[") and "done" in ln for ln in err)


def test_guard_on_a_keras3_source(samples_dir, tmp_path, capsys):
    """The accuracy guard ranks and re-quantises a Keras 3 model through the exporter's own converter."""
    from tests.export.guard_models import build_hostile, write_dataset

    model = build_hostile(keras3=True)
    src = tmp_path / "hostile.keras"
    model.save(src)
    data = write_dataset(model, samples_dir, tmp_path / "data", 6)
    rc = main(["convert", str(src), "--int8", "--preset", "camvid", "--calib-data", str(data), "--val-data", str(data),
               "--max-miou-drop", "5", "--out", str(tmp_path / "out"), "--json", "--no-lint"])
    assert rc == 0, capsys.readouterr().err[-1500:]
    guard = json.loads(capsys.readouterr().out)["artifacts"][0]["guard"]
    assert guard["met"] and guard["chosen"] > 0 and guard["steps"][0]["drop"] > 5  # plain int8 collapsed
    assert guard["ranking"] and guard["steps"][guard["chosen"]]["drop"] <= 5


def test_uint8_io_and_argmax_head_on_a_hub_model(byom, tmp_path):
    """--io uint8 puts the (assumed 'unit') normalisation into the graph of a keras-hub model; raw pixels in."""
    rc, res = _convert(byom["deeplab"]["keras"], tmp_path, byom["data"], "--fp32", "--int8", "--io", "uint8",
                       "--head", "argmax", "--classes", "3")
    assert rc == 0
    by = {r["target"]: r for r in res["artifacts"]}
    assert by["int8"]["input"]["dtype"] == "uint8" and by["int8"]["input"]["scale"] == 1.0
    assert by["int8"]["input"]["zero_point"] == 0 and by["fp32"]["output"]["dtype"] == "uint8"
    assert by["fp32"]["parity"]["passed"]  # a wrong in-graph normalisation would fail the fp32 agreement
    pre = Manifest.load(by["fp32"]["manifest"]).get("preprocessing")
    assert pre["normalisation"] == "in graph" and pre["graph_std"] == [1.0, 1.0, 1.0]
