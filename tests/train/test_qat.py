"""QAT: zoo models are wrapped by tfmot with BatchNorm folded, round-trip through .h5, convert to full int8."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from edgeseg import models
from edgeseg._keras import keras, tf
from edgeseg.train.outputs import load_model, save_model
from edgeseg.train.qat import quantize_for_training


def test_qat_quantises_every_layer_and_folds_batchnorm() -> None:
    # ENet (86 BNs, after convs, a transposed conv and a concatenation) also leaves nothing in
    # float, but its tfmot wrapping takes ~30 s: U-Net covers conv+BN+ReLU here.
    model = models.build("unet", 3, (32, 32), depth=2, base_width=4)
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    qat, skipped = quantize_for_training(model)
    assert skipped == []
    wrappers = {type(layer).__name__ for layer in qat.layers}
    assert "QuantizeWrapperV2" in wrappers or "QuantizeWrapper" in wrappers
    # A BN right after a conv is taken with it: the conv's own output is not fake-quantised.
    conv_bn = [l for l in qat.layers if getattr(l, "layer", None) is not None
               and isinstance(l.layer, keras.layers.BatchNormalization)]
    assert conv_bn, "BatchNormalization layers must be wrapped (quantised), not left in float"


def test_qat_unet_roundtrip_and_full_int8_tflite(tmp_path: Path) -> None:
    model = models.build("unet", 3, (32, 32), depth=2, base_width=4)
    qat, _ = quantize_for_training(model)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 32, 32, 3)).astype(np.float32)
    # A few training-mode passes so the activation ranges are learnt (as QAT fine-tuning does).
    for _ in range(3):
        qat(x, training=True)
    save_model(qat, tmp_path / "q.h5")
    again = load_model(tmp_path / "q.h5")
    np.testing.assert_allclose(again(x).numpy(), qat(x).numpy(), atol=1e-5)
    conv = tf.lite.TFLiteConverter.from_keras_model(again)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[i:i + 1]] for i in range(len(x)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]  # fails on any float op
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=conv.convert())
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    ops = {op["op_name"] for op in interp._get_ops_details()}
    assert "CONV_2D" in ops and not ops & {"MUL", "DEQUANTIZE"}, ops  # BN folded into the convs
    scale, zero = inp["quantization"]
    interp.set_tensor(inp["index"], np.clip(np.round(x[:1] / scale + zero), -128, 127).astype(np.int8))
    interp.invoke()
    o_scale, o_zero = out["quantization"]
    got = (interp.get_tensor(out["index"]).astype(np.float32) - o_zero) * o_scale
    want = again(x[:1]).numpy()
    assert np.mean(np.argmax(got, -1) == np.argmax(want, -1)) >= 0.9
