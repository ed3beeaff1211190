"""Fixtures of the export tests: a tiny Keras model saved as .h5 and one conversion of every target."""

from __future__ import annotations

from pathlib import Path

import pytest

CALIB_COUNT = 4


def build_tiny(num_classes: int = 11):
    """A 2-level encoder/decoder with a fully dynamic input (64x64 in the tests)."""
    from edgeseg._keras import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((None, None, 3), name="image_in")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="enc1")(inp)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="enc2")(x)
    x = keras.layers.UpSampling2D(interpolation="bilinear", name="up1")(x)
    out = keras.layers.Conv2D(num_classes, 1, name="logits_conv")(x)
    return keras.Model(inp, out, name="tiny")


@pytest.fixture(scope="session")
def tiny_h5(tmp_path_factory) -> Path:
    """The tiny model as a legacy .h5 (no manifest beside it: CamVid preset assumed)."""
    path = tmp_path_factory.mktemp("model") / "tiny.h5"
    build_tiny().save(path)
    return path


@pytest.fixture(scope="session")
def converted(tiny_h5, samples_dir, tmp_path_factory):
    """Every target converted once (64x64, 4 calibration frames, parity on the 11 sample frames)."""
    from edgeseg.export import convert_model, list_targets

    out = tmp_path_factory.mktemp("artifacts")
    results = convert_model(tiny_h5, list_targets(), out, calib=samples_dir, calib_count=CALIB_COUNT,
                            input_size="64x64", verify_data=samples_dir)
    return {r["target"]: r for r in results}


@pytest.fixture(scope="session")
def byom(tmp_path_factory, samples_dir):
    """Bring-your-own-model files, built once with random weights (no download): ``{name: {form: path}}`` for
    the keras.io pets U-Net (``keras``, ``savedmodel``, ``h5``), keras-hub DeepLabV3 and SegFormer (``keras``,
    ``savedmodel``), plus ``data``: a 4-frame 64x64 dataset with 3-class masks."""
    from tests.export.byom_models import BUILDERS, save_all, tiny_dataset

    root = tmp_path_factory.mktemp("byom")
    files: dict = {name: save_all(name, root) for name in BUILDERS}
    files["data"] = tiny_dataset(samples_dir, root / "data")
    return files
