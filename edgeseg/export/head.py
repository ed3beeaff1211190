"""Give a loaded Keras model a static batch-1 input and the requested output head."""

from __future__ import annotations

import logging
from typing import Any

from edgeseg.errors import ExportError, UsageError
from edgeseg.export.base import HEADS

log = logging.getLogger(__name__)


def static_input_size(model: Any) -> tuple[int, int] | None:
    """The model's own ``(height, width)`` if both are fixed, else ``None``."""
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4:
        raise ExportError(f"model input has shape {shape}; expected NHWC images")
    h, w = shape[1], shape[2]
    return (int(h), int(w)) if h is not None and w is not None else None


def num_classes_of(model: Any) -> int:
    """Channels of the model's (first) output: the class count."""
    shape = tuple(model.outputs[0].shape)
    if len(shape) != 4 or shape[-1] is None:
        raise ExportError(f"model output has shape {shape}; expected (N, H, W, classes) logits")
    return int(shape[-1])


def prepare_model(model: Any, input_size: tuple[int, int], head: str = "logits", *,
                  batch_size: int | None = 1) -> Any:
    """A new functional model: fixed ``(1, H, W, 3)`` input named ``image``, ``model`` inside, then the head.

    ``batch_size=None`` gives the same graph (shared weights) with a free batch dimension: the
    batched Keras reference of verification.

    ``logits`` keeps the output, ``softmax`` adds a :class:`keras.layers.Softmax`, ``argmax`` adds an
    in-graph argmax cast to uint8 (a class map). No Lambda layer is used; the result is never saved
    as .h5, only converted.
    """
    from edgeseg._keras import keras, tf

    if head not in HEADS:
        raise UsageError(f"unknown head {head!r} (choose from {', '.join(HEADS)})")
    own = static_input_size(model)
    if own is not None and own != tuple(input_size):
        raise ExportError(f"the model has a fixed input of {own[0]}x{own[1]}; it cannot be exported at "
                          f"{input_size[0]}x{input_size[1]} (drop --input-size or rebuild the model)")
    channels = model.inputs[0].shape[-1] or 3
    inp = keras.Input(shape=(*input_size, channels), batch_size=batch_size, name="image", dtype="float32")
    try:
        y = model(inp)
    except (ValueError, tf.errors.InvalidArgumentError) as exc:  # e.g. a skip concat of 34x34 and 33x33
        reason = " ".join(str(exc).split())[:160]
        raise ExportError(f"the model cannot run at {input_size[0]}x{input_size[1]} (is the size a multiple of its "
                          f"output stride?): {reason}") from None
    if isinstance(y, (list, tuple)):
        y = y[0]
    if tuple(y.shape[1:3]) != tuple(input_size):
        raise ExportError(f"model output is {y.shape[1]}x{y.shape[2]} for a {input_size[0]}x{input_size[1]} "
                          "input; edgeseg models output logits at input resolution (is the size a multiple of the "
                          "model's output stride?)")
    if head == "softmax":
        y = keras.layers.Softmax(axis=-1, name="probabilities")(y)
    elif head == "argmax":
        y = tf.cast(tf.math.argmax(y, axis=-1, output_type=tf.int32), tf.uint8, name="class_map")
    else:
        y = keras.layers.Activation("linear", name="logits")(y)
    return keras.Model(inp, y, name=f"{model.name}_{head}")
