"""Give a loaded Keras model a static batch-1 input and the requested output head."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from edgeseg.core.spec import Spec
from edgeseg.errors import ExportError, UsageError, one_line
from edgeseg.export.base import HEADS

log = logging.getLogger(__name__)

#: ``std`` of a pixels-mode spec: :func:`edgeseg.core.preprocess.normalise` then yields raw pixels 0..255.
PIXEL_STD = 1.0 / 255.0
#: Name of the in-graph normalisation layer of pixels mode.
NORMALISE_LAYER = "normalise"


def pixel_spec(spec: Spec) -> Spec:
    """The spec of a graph that takes raw RGB pixels 0..255: mean 0, std 1/255, RGB (classes unchanged)."""
    return spec.with_(mean=(0.0, 0.0, 0.0), std=(PIXEL_STD,) * 3, channel_order="RGB")


def is_pixel_spec(spec: Spec) -> bool:
    """Whether ``spec``'s preprocessing leaves raw RGB pixels (what :func:`pixel_spec` makes)."""
    return (spec.channel_order == "RGB" and all(m == 0.0 for m in spec.mean)
            and all(abs(s - PIXEL_STD) < 1e-9 for s in spec.std))


def is_per_channel(spec: Spec) -> bool:
    """Whether the spec's mean or std differs between channels (MediaPipe accepts one value for all)."""
    return len(set(spec.mean)) > 1 or len(set(spec.std)) > 1


def normalisation_weights(spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    """Kernel ``(1, 1, 3, 3)`` and bias of the 1x1 convolution computing ``spec``'s preprocessing from RGB pixels.

    Output channel ``o`` reads input channel ``o`` (``2 - o`` for BGR models) as ``x / (255 std) - mean / std``,
    with mean/std indexed by the RGB channel, as :func:`edgeseg.core.preprocess.normalise` does.
    """
    mean, std = np.asarray(spec.mean, np.float64), np.asarray(spec.std, np.float64)
    kernel = np.zeros((1, 1, 3, 3), np.float32)
    bias = np.zeros(3, np.float32)
    for o in range(3):
        c = 2 - o if spec.channel_order == "BGR" else o
        kernel[0, 0, c, o] = 1.0 / (255.0 * std[c])
        bias[o] = -mean[c] / std[c]
    return kernel, bias


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
                  batch_size: int | None = 1, normalise: Spec | None = None) -> Any:
    """A new functional model: fixed ``(1, H, W, 3)`` input named ``image``, ``model`` inside, then the head.

    ``batch_size=None`` gives the same graph (shared weights) with a free batch dimension: the
    batched Keras reference of verification.

    ``logits`` keeps the output, ``softmax`` adds a :class:`keras.layers.Softmax`, ``argmax`` adds an
    in-graph argmax cast to uint8 (a class map). No Lambda layer is used; the result is never saved
    as .h5, only converted.

    ``normalise`` (pixels mode) puts the spec's preprocessing into the graph: the input takes raw RGB
    pixels 0..255 and a fixed 1x1 :class:`keras.layers.Conv2D` named ``normalise`` computes
    ``(x/255 - mean) / std`` per channel (and the BGR swap of BGR models). One CONV_2D: XNNPACK takes
    it in fp32 and int8, and per-channel weight quantisation keeps it exact in int8.
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
    x = inp
    if normalise is not None:
        if channels != 3:
            raise ExportError(f"pixels mode needs a 3-channel RGB input; the model takes {channels} channels")
        conv = keras.layers.Conv2D(3, 1, use_bias=True, name=NORMALISE_LAYER, dtype="float32", trainable=False)
        x = conv(inp)
        conv.set_weights(list(normalisation_weights(normalise)))
    try:
        y = model(x)
    except (ValueError, tf.errors.InvalidArgumentError) as exc:  # e.g. a skip concat of 34x34 and 33x33
        reason = one_line(exc, 160)
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
