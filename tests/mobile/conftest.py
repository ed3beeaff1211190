"""Fixtures of the mobile tests: a tiny fp32 .tflite (one conv) for delegate and adb tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_tflite(tmp_path_factory) -> Path:
    """A 16x16 one-conv fp32 .tflite (converted directly, no metadata)."""
    from edgeseg._keras import keras, tf

    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3), batch_size=1, name="image")
    model = keras.Model(inp, keras.layers.Conv2D(11, 3, padding="same")(inp))
    path = tmp_path_factory.mktemp("mobile_tiny") / "conv_fp32.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return path
