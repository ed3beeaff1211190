"""Heads, integer I/O, calibration errors, atomic writes and the CLI's JSON output."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from edgeseg.errors import ExportError


def test_argmax_head_gives_uint8_class_map(tiny_h5, samples_dir, tmp_path):
    from edgeseg import runtime
    from edgeseg._keras import keras
    from edgeseg.core.presets import CAMVID
    from edgeseg.data.calibration import CalibrationSet, open_dataset
    from edgeseg.export import convert_model

    res = convert_model(tiny_h5, ["fp32", "int8"], tmp_path, calib=samples_dir, calib_count=4,
                        input_size="64x64", io="uint8", head="argmax", verify_data=samples_dir)
    by = {r["target"]: r for r in res}
    # the contract of a raw-pixel uint8 input: pixel p is the integer p (scale 1, zero point 0), in the result
    # and in the written file
    assert by["int8"]["input"]["dtype"] == "uint8"
    assert by["int8"]["input"]["scale"] == 1.0 and by["int8"]["input"]["zero_point"] == 0
    _check_raw_pixel_input(Path(by["int8"]["path"]))
    # mutation: the same file with its input scale edited to 2 (every pixel read as twice its value) fails it
    broken = tmp_path / "broken_scale.tflite"
    _edit_tflite(Path(by["int8"]["path"]), broken, _set_input_scale(2.0))
    with pytest.raises(AssertionError, match="scale"):
        _check_raw_pixel_input(broken)
    assert by["fp32"]["output"]["dtype"] == by["int8"]["output"]["dtype"] == "uint8"
    assert by["fp32"]["output"]["shape"] == [1, 64, 64]
    model = keras.models.load_model(tiny_h5, compile=False)
    frames = CalibrationSet(open_dataset(samples_dir, CAMVID), CAMVID, (64, 64), 3)
    with runtime.load(by["fp32"]["path"]) as be:  # --io uint8 implies --pixels: the graph takes raw pixels
        pixels = CalibrationSet(frames.dataset, be.manifest.spec, (64, 64), 3)
        for x, p in zip(frames, pixels):
            labels = be.run(p)
            assert labels.dtype == np.uint8
            np.testing.assert_array_equal(labels, np.argmax(model(x).numpy(), axis=-1))
    # measured 97.53 % (as the logits head's int8); the same limit as test_convert_targets' int8, whose BGR mutation
    # (85.7 %) shows it failing
    assert by["int8"]["parity"]["agreement_pct"] >= 96.5


def test_softmax_head(tiny_h5, tmp_path, samples_dir):
    from edgeseg.export import convert_model

    from edgeseg import runtime

    (r,) = convert_model(tiny_h5, ["onnx"], tmp_path, input_size="64x64", head="softmax", verify_data=samples_dir)
    assert r["output"]["name"] == "probabilities" and r["parity"]["passed"] is True
    x = np.random.default_rng(0).normal(size=(1, 64, 64, 3)).astype(np.float32)
    with runtime.load(tiny_h5) as keras_be, runtime.load(r["path"]) as be:
        logits, probs = keras_be.run(x), be.run(x)
    _check_probabilities(probs, logits)  # measured: max |p - softmax(keras)| 7.5e-8, |sum - 1| 2.4e-7; limit 1e-5
    with pytest.raises(AssertionError):  # mutation: a head that forgot the softmax (the logits themselves)
        _check_probabilities(logits, logits)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _check_probabilities(probs: np.ndarray, logits: np.ndarray) -> None:
    assert probs.min() >= 0.0 and probs.max() <= 1.0 + 1e-6
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(probs, _softmax(logits.astype(np.float64)), atol=1e-5)


def _check_raw_pixel_input(path: Path) -> None:
    from edgeseg import runtime

    with runtime.load(path) as be:
        i = be.input
        assert i.dtype == "uint8" and i.quantized, i
        assert i.scale == 1.0 and i.zero_point == 0, f"raw pixels need scale 1, zero point 0: {i}"


def _edit_tflite(src: Path, dst: Path, edit) -> None:
    """Write a copy of ``src`` with ``edit(ModelT)`` applied (the appended label zip is dropped)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as fb

    obj = fb.ModelT.InitFromPackedBuf(bytearray(src.read_bytes()), 0)
    edit(obj)
    b = flatbuffers.Builder(0)
    b.Finish(obj.Pack(b), file_identifier=b"TFL3")
    dst.write_bytes(bytes(b.Output()))


def _set_input_scale(scale: float):
    def edit(obj) -> None:
        sub = obj.subgraphs[0]
        sub.tensors[sub.inputs[0]].quantization.scale = [scale]
    return edit


def _negate_largest_float_buffer(obj) -> None:
    """A whole, loadable model that computes the wrong thing: its largest float32 constant negated."""
    buf = max(obj.buffers, key=lambda b: 0 if b.data is None else len(b.data))
    data = np.frombuffer(bytes(bytearray(buf.data)), np.float32)
    buf.data = np.frombuffer((-data).tobytes(), np.uint8).copy()


def test_broken_artifact_fails_parity_and_strict_exits_1(tiny_h5, samples_dir, tmp_path, capsys, monkeypatch):
    """Mutation of the artifact, not of the verifier: the fp32 file is written with its largest weight tensor
    negated. Parity must say so, and --strict must turn it into exit 1 (the same command on the real file
    exits 0: test_cli_json_schema)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as fb

    from edgeseg.cli.main import main
    from edgeseg.export import tflite

    write = tflite.write_tflite

    def broken_write(model: bytes, *args, **kwargs):
        obj = fb.ModelT.InitFromPackedBuf(bytearray(model), 0)
        _negate_largest_float_buffer(obj)
        b = flatbuffers.Builder(0)
        b.Finish(obj.Pack(b), file_identifier=b"TFL3")
        return write(bytes(b.Output()), *args, **kwargs)

    monkeypatch.setattr(tflite, "write_tflite", broken_write)
    rc = main(["convert", str(tiny_h5), "--fp32", "--input-size", "64x64", "--verify-data", str(samples_dir),
               "--out", str(tmp_path), "--json", "--strict"])
    out = capsys.readouterr()
    assert rc == 1, out.err
    (a,) = json.loads(out.out)["artifacts"]
    assert a["parity"]["passed"] is False and a["parity"]["agreement_pct"] < 99.9, a["parity"]
    assert "parity below expectation: tiny_fp32.tflite" in out.err


def test_int8_without_calibration_is_one_line_error(tiny_h5, tmp_path):
    from edgeseg.cli.main import main
    from edgeseg.export import convert_model

    with pytest.raises(ExportError, match="--calib-data") as info:
        convert_model(tiny_h5, ["int8"], tmp_path, input_size="64x64")
    assert "\n" not in str(info.value)
    assert not list(tmp_path.iterdir())


def test_cli_missing_calibration_exit_2(tiny_h5, tmp_path, capsys):
    from edgeseg.cli.main import main

    assert main(["convert", str(tiny_h5), "--onnx-int8", "--input-size", "64x64", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: onnx-int8 needs calibration images")


def test_failed_rename_leaves_no_partial_file(tiny_h5, tmp_path, monkeypatch):
    from edgeseg.export import convert_model

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    for target in ("fp32", "onnx"):
        with pytest.raises(OSError):
            convert_model(tiny_h5, [target], tmp_path, input_size="64x64")
    assert list(tmp_path.iterdir()) == []


def test_cli_json_schema(tiny_h5, samples_dir, tmp_path, capsys):
    from edgeseg.cli.main import main

    rc = main(["convert", str(tiny_h5), "--fp32", "--input-size", "64x64", "--verify-data", str(samples_dir),
               "--out", str(tmp_path), "--json", "--strict"])
    out = capsys.readouterr()
    assert rc == 0
    doc = json.loads(out.out)
    (a,) = doc["artifacts"]
    for key in ("path", "format", "precision", "size_bytes", "input", "output", "parity", "ops"):
        assert key in a
    assert a["format"] == "tflite" and a["precision"] == "fp32" and Path(a["path"]).is_file()
    assert a["input"]["shape"] == [1, 64, 64, 3] and a["input"]["dtype"] == "float32"
    assert a["parity"]["passed"] is True and a["parity"]["images"] == 11


def test_cli_table(tiny_h5, samples_dir, tmp_path, capsys):
    from edgeseg.cli.main import main

    rc = main(["convert", str(tiny_h5), "--onnx", "--input-size", "64x64", "--verify-data", str(samples_dir),
               "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0 and "tiny.onnx" in out and "[ok]" in out
