"""ENet's concat merges rebuilt as adds for ONNX Runtime's channels-last int8 path (exact rewrite)."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pytest


def _random_enet(classes: int = 5, **options):
    """A small ENet with non-trivial BatchNorm statistics and PReLU slopes."""
    from edgeseg import models
    from edgeseg._keras import keras

    keras.utils.set_random_seed(0)
    model = models.build("enet", classes, (64, 96), width=0.5, **options)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        weights = layer.get_weights()
        if type(layer).__name__ == "BatchNormalization":
            g, b, mu, var = weights
            layer.set_weights([g + rng.normal(0, 0.2, g.shape), b + rng.normal(0, 0.2, b.shape),
                               mu + rng.normal(0, 0.2, mu.shape), var + rng.uniform(0.1, 1.0, var.shape)])
        elif type(layer).__name__ in ("PReLU", "Conv2D") and len(weights) == 2:  # slopes, conv biases
            layer.set_weights([weights[0], weights[1] + rng.normal(0, 0.2, weights[1].shape).astype(np.float32)])
        elif type(layer).__name__ == "PReLU":
            layer.set_weights([rng.uniform(0.0, 0.5, weights[0].shape).astype(np.float32)])
    return model


@pytest.mark.parametrize("options", [{"activation": "relu"},
                                     {"activation": "prelu", "upconv": "resize", "head": "bilinear"}])
def test_merge_as_add_computes_the_same_function(options):
    from edgeseg.models.enet import merge_as_add

    model = _random_enet(**options)
    new = merge_as_add(model)
    assert new is not None
    kinds = collections.Counter(type(layer).__name__ for layer in new.layers)
    assert kinds["Concatenate"] == 0 and kinds["Add"] == sum(
        type(layer).__name__ == "Add" for layer in model.layers) + 1  # initial block: concat -> add
    x = np.random.default_rng(1).normal(size=(2, 64, 96, 3)).astype(np.float32)
    ref = model(x, training=False).numpy()
    np.testing.assert_allclose(new(x, training=False).numpy(), ref, atol=1e-4 * float(np.abs(ref).max()))
    assert merge_as_add(new) is None  # already add-merged


def test_fuse_transpose_head_computes_the_same_function():
    from edgeseg.models.enet import fuse_transpose_head, merge_as_add

    model = merge_as_add(_random_enet(activation="relu"))
    fused = fuse_transpose_head(model)
    assert fused is not None and "classifier" not in {layer.name for layer in fused.layers}
    x = np.random.default_rng(2).normal(size=(1, 64, 96, 3)).astype(np.float32)
    ref = model(x, training=False).numpy()
    np.testing.assert_allclose(fused(x, training=False).numpy(), ref, atol=1e-4 * float(np.abs(ref).max()))
    assert fuse_transpose_head(fused) is None
    assert fuse_transpose_head(_random_enet(activation="relu", head="bilinear")) is None


def test_other_models_are_left_alone():
    from edgeseg import models
    from edgeseg.models.deploy import for_onnxruntime_int8

    unet = models.build("unet", 5, (64, 96), depth=2, base_width=4)
    same, notes = for_onnxruntime_int8(unet)
    assert same is unet and notes == []


def test_int8_onnx_enet_runs_channels_last(tmp_path: Path, samples_dir: Path):
    """Converted with the rewrite, ORT's optimised int8 graph has no Transpose and no channels-first
    MaxPool; the artifact's manifest says what was rewritten; parity with Keras holds."""
    import onnx
    import onnxruntime as ort

    from edgeseg.core.manifest import Manifest
    from edgeseg.export import convert_model

    h5 = tmp_path / "enet.h5"
    _random_enet(11, activation="relu").save(h5)  # CamVid's 11 classes: no manifest needed
    (r,) = convert_model(h5, ["onnx-int8"], tmp_path, calib=samples_dir, calib_count=4, verify_data=samples_dir)
    notes = Manifest.load(r["manifest"])["quantization"]["graph_rewrites"]
    assert len(notes) == 2 and "concat" in notes[0] and "head" in notes[1]
    assert r["parity"]["agreement_pct"] > 90.0
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    ort.InferenceSession(r["path"], opts, providers=["CPUExecutionProvider"])
    ops = collections.Counter(n.op_type for n in onnx.load(opts.optimized_model_filepath).graph.node)
    assert ops["QLinearConv"] > 50 and ops["NhwcMaxPool"] == 3, ops
    assert ops["Transpose"] <= 6 and ops["MaxPool"] == 0, ops  # 6: around the 3 float ConvTransposes
