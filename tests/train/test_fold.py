"""The training copy's folded upsampling head: same function, same gradients, same variables in the same order."""

from __future__ import annotations

import numpy as np
import pytest

from edgeseg import models
from edgeseg._keras import tf
from edgeseg.train.fold import FoldedUpsamplingHead, fold_upsampling_head
from edgeseg.train.precision import with_policy

X = np.random.default_rng(0).normal(size=(2, 64, 96, 3)).astype(np.float32)


def _grads(model, x) -> tuple[np.ndarray, list[np.ndarray]]:
    with tf.GradientTape() as tape:
        out = model(x, training=True)
        loss = tf.reduce_sum(tf.sin(out))  # a loss whose gradient differs per pixel and class
    return out.numpy(), [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]


@pytest.mark.parametrize("name,options", [("linknet", {"base_width": 16}), ("enet", {"activation": "relu", "dropout": 0.0})])
def test_folded_head_computes_the_same_function_and_gradients(name: str, options: dict) -> None:
    model = models.build(name, 11, (64, 96), **options)
    folded = fold_upsampling_head(model)
    assert folded is not model and isinstance(folded.layers[-1], FoldedUpsamplingHead)
    assert [id(v) for v in folded.weights] == [id(v) for v in model.weights]  # the Trainer's copies rely on it
    ref, ref_grads = _grads(model, X)
    out, grads = _grads(folded, X)
    np.testing.assert_allclose(out, ref, atol=1e-5 * np.abs(ref).max())
    # a bias feeding a training-mode batch norm has a zero gradient: only rounding noise to compare
    for v, a, b in zip(model.trainable_variables, ref_grads, grads):
        if np.abs(a).max() > 1e-3 * max(np.abs(g).max() for g in ref_grads):
            np.testing.assert_allclose(b, a, atol=1e-4 * np.abs(a).max(), err_msg=v.name)
    # under bf16 the folded head computes in float32 like the classifier it replaces
    mixed = fold_upsampling_head(with_policy(model, "mixed_bfloat16"))
    assert mixed.layers[-1].compute_dtype == "float32" and mixed(X).dtype == tf.float32


@pytest.mark.parametrize("name,options", [("unet", {"base_width": 8, "depth": 2}),
                                          ("linknet", {"base_width": 16, "head": "bilinear"})])
def test_models_without_a_linear_upsampling_head_are_left_alone(name: str, options: dict) -> None:
    model = models.build(name, 11, (64, 96), **options)
    assert fold_upsampling_head(model) is model


def test_a_head_with_an_activation_between_is_not_folded() -> None:
    from edgeseg._keras import keras

    inp = keras.Input((8, 8, 4))
    up = keras.layers.Conv2DTranspose(6, 2, strides=2, padding="same", activation="relu")(inp)
    out = keras.layers.Conv2D(3, 1)(up)
    model = keras.Model(inp, out)
    assert fold_upsampling_head(model) is model


def test_trainer_trains_the_folded_copy_and_saves_plain_layers(tmp_path) -> None:
    from pathlib import Path

    from edgeseg.core.dataset import FolderDataset
    from edgeseg.core.presets import CAMVID
    from edgeseg.data.pipeline import FrameCache, PipelineConfig
    from edgeseg.train.loop import Trainer, TrainConfig
    from edgeseg.train.optim import OptimConfig
    from edgeseg.train.outputs import BEST, load_model

    samples = Path(__file__).resolve().parents[2] / "samples" / "camvid"
    frames = FrameCache(FolderDataset(samples / "images", samples / "masks", CAMVID).subset(2))
    pipe = PipelineConfig(input_size=(64, 96), output_stride=32)
    trainer = Trainer(lambda: models.build("linknet", 11, (64, 96), base_width=16), CAMVID, pipe,
                      TrainConfig(epochs=1, batch_size=2, optim=OptimConfig(ema=0.9)), frames, out=tmp_path)
    assert isinstance(trainer.model.layers[-1], FoldedUpsamplingHead)
    trainer.fit()
    loaded = load_model(tmp_path / BEST)
    names = [layer.name for layer in loaded.layers]
    assert names[-2:] == ["final_fullconv2", "classifier"] and "classifier_folded" not in names
