"""Every export target on a tiny model: names, runtime loading, parity, manifests, metadata, determinism."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgeseg.core.manifest import Manifest

EXPECTED_NAMES = {
    "fp32": "tiny_fp32.tflite", "fp16": "tiny_fp16.tflite", "dynamic": "tiny_dynamic_int8.tflite",
    "int8": "tiny_int8.tflite", "int16x8": "tiny_int16x8.tflite", "onnx": "tiny.onnx",
    "onnx-fp16": "tiny_fp16.onnx", "onnx-int8": "tiny_int8.onnx",
}


@pytest.mark.parametrize("target", list(EXPECTED_NAMES))
def test_artifact_written_loaded_and_verified(converted, target):
    from edgeseg import runtime

    r = converted[target]
    path = Path(r["path"])
    assert path.name == EXPECTED_NAMES[target]
    assert path.stat().st_size == r["size_bytes"] > 0
    with runtime.load(path) as be:
        assert tuple(be.input.shape[1:3]) == (64, 64)
        y = be.run(np.zeros((1, 64, 64, 3), np.float32))
    assert y.shape == (1, 64, 64, 11)
    par = r["parity"]
    assert par["images"] == 11 and 0 <= par["agreement_pct"] <= 100
    if r["precision"] == "fp32":
        assert par["passed"] is True and par["agreement_pct"] >= 99.9 and par["max_abs_diff"] < 1e-4
    elif r["precision"] == "fp16":
        assert par["passed"] is True and par["agreement_pct"] >= 99.5
    else:
        assert par["agreement_pct"] > 90.0 and abs(par["miou_delta_pts"]) < 5
    side = Manifest.load(r["manifest"])
    art = side["artifact"]
    assert art["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert art["format"] == r["format"] and art["precision"] == r["precision"] and art["head"] == "logits"
    assert side["parity"] == json.loads(json.dumps(par)) and side["source"]["path"].endswith("tiny.h5")
    assert side.spec.name == "camvid" and side.to_dict()["preprocessing"]["mean"] == list(side.spec.mean)


def test_calibrated_targets_record_calibration(converted):
    for target in ("int8", "int16x8", "onnx-int8"):
        q = Manifest.load(converted[target]["manifest"])["quantization"]
        assert q["calibration_images"] == 4 and q["calibration"]["images"] == 4


def test_tflite_ops_are_builtins(converted):
    for target in ("fp32", "fp16", "dynamic", "int8", "int16x8"):
        assert converted[target]["ops"] and not any(o.startswith("CUSTOM") for o in converted[target]["ops"])
    assert "QUANTIZE" in converted["int8"]["ops"]


def test_onnx_metadata_props(converted):
    import onnx

    for target in ("onnx", "onnx-fp16", "onnx-int8"):
        proto = onnx.load(converted[target]["path"])
        props = {p.key: p.value for p in proto.metadata_props}
        assert json.loads(props["edgeseg.spec"])["name"] == "camvid"
        assert props["edgeseg.labels"].splitlines()[0] == "Sky"
        assert json.loads(props["edgeseg.preprocessing"])["layout"] == "NHWC"
        assert proto.opset_import[0].version >= 17
    assert "QuantizeLinear" in converted["onnx-int8"]["ops"]


def test_tflite_metadata_round_trip(converted):
    from edgeseg.export.tflite_metadata import read_metadata

    data = Path(converted["int8"]["path"]).read_bytes()
    meta = read_metadata(data)
    assert meta["name"] == "tiny_int8" and meta["input_size"] == (64, 64)
    assert meta["mean"] == pytest.approx([0.485 * 255, 0.456 * 255, 0.406 * 255], rel=1e-5)
    assert meta["std"] == pytest.approx([0.229 * 255, 0.224 * 255, 0.225 * 255], rel=1e-5)
    assert meta["labels"][:2] == ["Sky", "Building"] and len(meta["labels"]) == 11
    assert meta["label_file_type"] == 2 and meta["activation"] == 0  # TENSOR_AXIS_LABELS, NONE
    assert zipfile.is_zipfile(converted["int8"]["path"])


def test_weights_stay_aligned_after_metadata(converted):
    from ai_edge_litert import schema_py_generated as fb

    data = bytearray(Path(converted["fp32"]["path"]).read_bytes())
    model = fb.Model.GetRootAs(data, 0)
    for i in range(model.BuffersLength()):
        buf = model.Buffers(i)
        if buf.DataLength() > 64:
            start = buf._tab.Vector(buf._tab.Offset(4))
            assert start % 16 == 0


def test_conversion_is_byte_identical(converted, tiny_h5, samples_dir, tmp_path):
    from edgeseg.export import convert_model

    targets = ["fp32", "int8", "onnx", "onnx-int8"]
    again = convert_model(tiny_h5, targets, tmp_path, calib=samples_dir, calib_count=4, input_size="64x64",
                          verify_data=samples_dir)
    for r in again:
        assert Path(r["path"]).read_bytes() == Path(converted[r["target"]]["path"]).read_bytes(), r["target"]
