"""Validation on full frames at native label resolution with core.metrics.ConfusionMatrix."""

from __future__ import annotations

from typing import Callable

from edgeseg._keras import keras, tf
from edgeseg.core.metrics import ConfusionMatrix, Scores
from edgeseg.core.spec import Spec


def make_predict_fn(model: keras.Model, fit: str = "resize", jit: bool = False) -> Callable[[tf.Tensor, tf.Tensor],
                                                                                             tf.Tensor]:
    """``predict(x, y) -> uint8 class map`` the size of ``y``: logits are cropped (pad mode) or
    bilinearly resized (resize mode, when the model runs below label resolution) before argmax."""

    @tf.function(jit_compile=jit)
    def predict(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        logits = model(x, training=False)
        h, w = y.shape[1], y.shape[2]
        if fit == "pad":
            logits = logits[:, :h, :w]
        elif tuple(logits.shape[1:3]) != (h, w):
            logits = tf.image.resize(tf.cast(logits, tf.float32), (h, w), method="bilinear")
        return tf.cast(tf.argmax(logits, axis=-1), tf.uint8)

    return predict


def evaluate(model: keras.Model, dataset: tf.data.Dataset, spec: Spec, fit: str = "resize",
             predict: Callable | None = None, on_batch: Callable[[int], None] | None = None) -> Scores:
    """Scores of ``model`` over ``dataset`` (``(x, y_native)`` batches, see ``eval_dataset``)."""
    predict = predict or make_predict_fn(model, fit)
    cm = ConfusionMatrix(spec.num_classes, spec.void_index)
    for x, y in dataset:
        cm.update(y.numpy(), predict(x, y).numpy())
        if on_batch:
            on_batch(int(x.shape[0]))
    return cm.scores()
