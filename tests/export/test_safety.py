"""Untrusted model files: Lambda code is never run without --trust-model; bad files give one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeseg.errors import ModelError, UsageError


@pytest.fixture()
def lambda_h5(tmp_path) -> tuple[Path, Path]:
    from edgeseg._keras import keras

    marker = tmp_path / "pwned.txt"
    code = f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1]"
    fn = eval(code)  # noqa: S307 - the test builds a malicious model on purpose
    inp = keras.Input((8, 8, 3))
    out = keras.layers.Lambda(fn, name="evil")(keras.layers.Conv2D(11, 1)(inp))
    path = tmp_path / "evil.h5"
    keras.Model(inp, out).save(path)
    marker.unlink()  # saving traced the layer once; start clean
    return path, marker


def test_lambda_model_refused_and_code_never_runs(lambda_h5, tmp_path, capsys):
    from edgeseg.cli.main import main
    from edgeseg.export.safety import load_keras_model

    path, marker = lambda_h5
    with pytest.raises(ModelError, match="Lambda") as info:
        load_keras_model(path)
    assert "--trust-model" in str(info.value) and "\n" not in str(info.value)
    assert main(["convert", str(path), "--fp32", "--out", str(tmp_path / "o")]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["lint", str(path)]) == 2
    assert not marker.exists()
    load_keras_model(path, trust_model=True)  # with the flag, the stored code does run
    assert marker.exists()


def test_unknown_custom_layer_refused(tmp_path):
    import h5py

    from edgeseg.export.safety import load_keras_model
    from tests.export.conftest import build_tiny

    path = tmp_path / "custom.h5"
    build_tiny().save(path)
    with h5py.File(path, "r+") as fh:
        cfg = json.loads(fh.attrs["model_config"])
        cfg["config"]["layers"][1]["class_name"] = "MySecretConv"
        fh.attrs["model_config"] = json.dumps(cfg)
    with pytest.raises(ModelError, match="custom class 'MySecretConv'"):
        load_keras_model(path)


def test_lambda_inside_a_wrapper_refused(lambda_h5, tmp_path):
    """A Lambda hidden under a wrapper's ``config.layer`` (as tfmot's QuantizeWrapperV2 keeps the layer
    it wraps) is found too, and its code never runs."""
    import h5py

    from edgeseg.export.safety import load_keras_model

    path, marker = lambda_h5
    with h5py.File(path, "r+") as fh:
        cfg = json.loads(fh.attrs["model_config"])
        layers = cfg["config"]["layers"]
        evil = next(i for i, lay in enumerate(layers) if lay["class_name"] == "Lambda")
        inner = {"class_name": "Lambda", "config": layers[evil]["config"]}
        layers[evil] = {**layers[evil], "class_name": "TimeDistributed",
                        "config": {"name": "evil", "layer": inner}}
        fh.attrs["model_config"] = json.dumps(cfg)
    with pytest.raises(ModelError, match="Lambda"):
        load_keras_model(path)
    assert not marker.exists()


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"this is not a model at all", "not a Keras .h5"),
    (b"\x89HDF\r\n\x1a\n" + b"\x00" * 40, "corrupt or truncated"),
])
def test_bad_files_one_line_errors(tmp_path, content, message, capsys):
    from edgeseg.cli.main import main

    path = tmp_path / "model.h5"
    path.write_bytes(content)
    assert main(["convert", str(path), "--fp32"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and len(err.splitlines()) == 1


def test_truncated_real_h5(tiny_h5, tmp_path):
    from edgeseg.export.safety import load_keras_model

    path = tmp_path / "cut.h5"
    path.write_bytes(tiny_h5.read_bytes()[:2000])
    with pytest.raises(ModelError):
        load_keras_model(path)


def test_tflite_given_instead_of_h5(converted):
    from edgeseg.export.safety import load_keras_model

    with pytest.raises(ModelError, match="is a tflite file, expected h5"):
        load_keras_model(converted["fp32"]["path"])


def test_unknown_target_and_bad_options(tiny_h5):
    from edgeseg.export import convert_model

    with pytest.raises(UsageError):
        convert_model(tiny_h5, ["int4"], None)
    with pytest.raises(UsageError):
        convert_model(tiny_h5, ["fp32"], None, io="int4")
    with pytest.raises(UsageError):
        convert_model(tiny_h5, [], None)
