"""QAT: a zoo model is wrapped by tfmot without crashing, round-trips through .h5, converts to int8 TFLite."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeseg import models
from edgeseg._keras import tf
from edgeseg.train.outputs import load_model, save_model
from edgeseg.train.qat import quantize_for_training


def test_qat_unet_roundtrip_and_int8_tflite(tmp_path: Path) -> None:
    model = models.build("unet", 3, (32, 32), depth=2, base_width=4)
    qat, skipped = quantize_for_training(model)
    assert any("Quantize" in type(l).__name__ for l in qat.layers)
    assert all("(" in s for s in skipped)
    x = np.random.default_rng(0).normal(size=(1, 32, 32, 3)).astype(np.float32)
    save_model(qat, tmp_path / "q.h5")
    again = load_model(tmp_path / "q.h5")
    np.testing.assert_allclose(again(x).numpy(), qat(x).numpy(), atol=1e-5)
    conv = tf.lite.TFLiteConverter.from_keras_model(again)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    blob = conv.convert()
    interp = tf.lite.Interpreter(model_content=blob)
    dtypes = {d["dtype"] for d in interp.get_tensor_details()}
    assert np.int8 in dtypes
