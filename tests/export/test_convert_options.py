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
    assert by["int8"]["input"]["dtype"] == "uint8" and by["int8"]["input"]["scale"] > 0
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
    assert by["int8"]["parity"]["agreement_pct"] > 90


def test_softmax_head(tiny_h5, tmp_path, samples_dir):
    from edgeseg.export import convert_model

    (r,) = convert_model(tiny_h5, ["onnx"], tmp_path, input_size="64x64", head="softmax", verify_data=samples_dir)
    assert r["output"]["name"] == "probabilities" and r["parity"]["passed"] is True


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
