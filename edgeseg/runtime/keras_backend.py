"""Keras (TensorFlow) baseline backend; the only runtime module that loads TensorFlow, and lazily.

Importing this module is cheap; TensorFlow is imported (through :mod:`edgeseg._keras`) when a
:class:`KerasBackend` is constructed. ``edgeseg.runtime`` imports it only for ``backend="keras"``.
"""

from __future__ import annotations

import logging
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.errors import ModelError, one_line
from edgeseg.runtime.base import Backend, TensorInfo

log = logging.getLogger(__name__)


class KerasBackend(Backend):
    """A Keras model (tf_keras or Keras 3 ``.h5``, ``.keras``, keras-hub) or a SavedModel's serving signature,
    called inside a ``tf.function`` (graph mode, no ``predict`` overhead), TensorFlow's intra/inter-op pools
    limited to ``threads``.

    The model is opened by :func:`edgeseg.export.sources.open_source`, the loader ``convert`` uses: the same
    checks before anything from the file runs (Lambda layers and classes from outside keras/keras_hub/edgeseg
    are refused). That import is this backend's one exception to "runtime never imports export": the Keras
    baseline *is* the export side's source model, and a second loader would be a second set of safety rules.
    """

    name = "keras"
    formats = ("h5", "keras", "savedmodel")
    extra = "train"
    OPTIONS: dict[str, str] = {}

    def __init__(self, path: str | Path, threads: int | None = None, **options: Any) -> None:
        super().__init__(path, threads, **options)
        from edgeseg import _keras

        _keras.set_threads(threads)
        tf = _keras.tf
        from edgeseg.export.sources import open_source

        try:
            source = open_source(self.path)
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - Keras/TensorFlow raise many types for damaged files
            msg = one_line(exc, 300)
            raise ModelError(f"{self.path}: Keras cannot load the model ({msg})") from None
        h, w, c = source.input_shape
        shape = (-1, -1 if h is None else int(h), -1 if w is None else int(w), int(c))
        self._input_info = TensorInfo("image", shape, "float32")
        self._output_info = TensorInfo("output", (-1, shape[1], shape[2], source.num_classes), "float32")
        sig = tf.TensorSpec((None, h, w, c), tf.float32)
        self._fn = tf.function(source.call, input_signature=[sig])
        self._model = source
        self._tf = tf
        self._y: Any = None
        if h is not None and w is not None:  # trace + grappler once here: its remapper notices go to -v logs
            from edgeseg.core.native_log import native_stderr

            with native_stderr("keras graph optimisation"):
                self._fn(tf.zeros((1, h, w, c), tf.float32))

    @classmethod
    def engine_version(cls) -> str | None:
        try:
            return metadata.version("tensorflow")
        except metadata.PackageNotFoundError:
            return None

    def set_input(self, x: np.ndarray) -> None:
        self._x = self._tf.constant(x)

    def invoke(self) -> None:
        self._y = self._fn(self._x)

    def get_output(self) -> np.ndarray:
        return np.asarray(self._y.numpy())

    def close(self) -> None:
        self._model = None
