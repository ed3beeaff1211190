"""The one representation every exporter consumes: a traced TensorFlow function with a fixed input.

:class:`ExportGraph` wraps any :class:`~edgeseg.export.sources.ModelSource` (tf_keras, Keras 3,
keras-hub, SavedModel) with the conversion's choices: static ``H x W``, the in-graph normalisation
of pixels mode and the output head. Exporters ask it for a batch-1 concrete function (TFLite), a
``tf.function`` plus input signature (tf2onnx) and a batched reference (parity); none of them
knows which Keras wrote the model. tf_keras sources keep their Keras graph
(:func:`edgeseg.export.head.prepare_model`) so that the zoo's exact ONNX Runtime rewrites
(:mod:`edgeseg.models.deploy`) still apply.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from edgeseg.core.spec import Spec
from edgeseg.errors import ExportError, UsageError, one_line
from edgeseg.export.base import HEADS
from edgeseg.export.head import normalisation_weights, prepare_model


class ExportGraph:
    """``image (N,H,W,C) float32 -> head output`` as TensorFlow functions, plus what exporters need.

    Attributes:
        input_size: ``(H, W)`` of the exported graph.
        channels: Input channels.
        head: ``logits``, ``softmax`` or ``argmax``.
        name: Model name (for logs).
        keras_model: The prepared tf_keras model (batch 1) of a tf_keras source, else ``None``.
        trackable: Owner of the variables (given to the TFLite converter).
    """

    def __init__(self, forward: Callable[[Any], Any], input_size: tuple[int, int], channels: int, head: str, *,
                 name: str, trackable: Any, keras_model: Any = None, batch_free: bool = True) -> None:
        from edgeseg._keras import tf

        self._forward, self.input_size, self.channels, self.head = forward, tuple(input_size), channels, head
        self.name, self.trackable, self.keras_model = name, trackable, keras_model
        self.function = tf.function(forward, reduce_retracing=True)
        self.batch_free = batch_free
        self._concrete: Any = None

    def input_spec(self, batch: int | None = 1) -> Any:
        """The ``tf.TensorSpec`` of the input named ``image``."""
        from edgeseg._keras import tf

        return tf.TensorSpec((batch, *self.input_size, self.channels), tf.float32, name="image")

    def concrete(self) -> Any:
        """The batch-1 concrete function (traced once)."""
        if self._concrete is None:
            self._concrete = self.function.get_concrete_function(self.input_spec(1))
        return self._concrete

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Run on a float32 batch (batch 1 unless the graph has a free batch dimension)."""
        return np.asarray(self.function(x))

    @property
    def reference_batch(self) -> int:
        """Frames per reference call."""
        return 4 if self.batch_free else 1

    def for_onnxruntime_int8(self) -> tuple["ExportGraph", list[str]]:
        """The graph after :func:`edgeseg.models.deploy.for_onnxruntime_int8` (tf_keras zoo models), with its notes."""
        if self.keras_model is None:
            return self, []
        from edgeseg.models.deploy import for_onnxruntime_int8

        model, notes = for_onnxruntime_int8(self.keras_model)
        if not notes:
            return self, []
        return from_keras_model(model, head=self.head), notes


def from_keras_model(model: Any, head: str = "logits") -> ExportGraph:
    """An already prepared tf_keras model (static input, head applied) as a graph."""
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[1] is None or shape[2] is None:
        raise ExportError(f"model input has shape {shape}; exporters need a static NHWC input")
    return ExportGraph(lambda x: model(x, training=False), (int(shape[1]), int(shape[2])), int(shape[3] or 3),
                       head, name=model.name, trackable=model, keras_model=model, batch_free=shape[0] != 1)


def as_graph(obj: Any, head: str = "logits") -> ExportGraph:
    """``obj`` if it is a graph already, else a prepared tf_keras model wrapped by :func:`from_keras_model`."""
    return obj if isinstance(obj, ExportGraph) else from_keras_model(obj, head)


def build_graph(source: Any, input_size: tuple[int, int], head: str = "logits", *,
                normalise: Spec | None = None) -> ExportGraph:
    """The export graph of a source: fixed ``H x W``, optional pixels-mode normalisation, the head.

    Args:
        source: A :class:`~edgeseg.export.sources.ModelSource`.
        input_size: ``(H, W)``.
        head: ``logits`` (the output unchanged), ``softmax`` or ``argmax`` (uint8 class map).
        normalise: Pixels mode: the spec whose ``(x/255 - mean)/std`` the graph computes first (a fixed 1x1
            convolution, one CONV_2D / Conv), so the graph takes raw pixels 0..255.
    """
    if head not in HEADS:
        raise UsageError(f"unknown head {head!r} (choose from {', '.join(HEADS)})")
    own = source.static_size
    if own is not None and own != tuple(input_size):
        raise ExportError(f"the model has a fixed input of {own[0]}x{own[1]}; it cannot be exported at "
                          f"{input_size[0]}x{input_size[1]} (drop --input-size or rebuild the model)")
    if source.flavour == "tf_keras":
        prepared = prepare_model(source.model, input_size, head, normalise=normalise, batch_size=None)
        return ExportGraph(lambda x: prepared(x, training=False), input_size, source.channels, head,
                           name=source.name, trackable=prepared,
                           keras_model=prepare_model(source.model, input_size, head, normalise=normalise))
    return _tf_graph(source, tuple(input_size), head, normalise)


def _tf_graph(source: Any, input_size: tuple[int, int], head: str, normalise: Spec | None) -> ExportGraph:
    from edgeseg._keras import tf

    if normalise is not None and source.channels != 3:
        raise ExportError(f"pixels mode needs a 3-channel RGB input; the model takes {source.channels} channels")
    kernel, bias = normalisation_weights(normalise) if normalise is not None else (None, None)
    call = source.call

    def forward(x: Any) -> Any:
        if kernel is not None:
            x = tf.nn.bias_add(tf.nn.conv2d(x, tf.constant(kernel), 1, "VALID"), tf.constant(bias))
        y = call(x)
        if head == "softmax":
            return tf.nn.softmax(y, axis=-1)
        if head == "argmax":
            return tf.cast(tf.math.argmax(y, axis=-1, output_type=tf.int32), tf.uint8)
        return tf.identity(y)

    graph = ExportGraph(forward, input_size, source.channels, head, name=source.name, trackable=source.trackable,
                        batch_free=source.details.get("batch_free", True))
    try:
        out = graph.concrete().structured_outputs
    except (ValueError, TypeError, tf.errors.InvalidArgumentError) as exc:
        raise ExportError(f"the model cannot run at {input_size[0]}x{input_size[1]} (is the size a multiple of its "
                          f"output stride?): {one_line(exc, 160)}") from None
    shape = tuple(out.shape)
    if tuple(shape[1:3]) != input_size:
        raise ExportError(f"model output is {shape[1]}x{shape[2]} for a {input_size[0]}x{input_size[1]} input; "
                          "edgeseg exports segmenters whose output has the input's resolution")
    return graph
