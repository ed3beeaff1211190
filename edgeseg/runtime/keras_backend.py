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

from edgeseg.errors import ModelError
from edgeseg.runtime.base import Backend, TensorInfo

log = logging.getLogger(__name__)


class KerasBackend(Backend):
    """A tf_keras ``.h5`` model called inside a ``tf.function`` (graph mode, no ``predict``
    overhead), TensorFlow's intra/inter-op pools limited to ``threads``."""

    name = "keras"
    formats = ("h5",)
    OPTIONS: dict[str, str] = {}

    def __init__(self, path: str | Path, threads: int | None = None, **options: Any) -> None:
        super().__init__(path, threads, **options)
        from edgeseg import _keras

        _keras.set_threads(threads)
        tf, keras = _keras.tf, _keras.keras
        try:
            self._model = keras.models.load_model(str(self.path), compile=False)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            msg = " ".join(str(exc).split())[:300]
            raise ModelError(f"{self.path}: Keras cannot load the model ({msg})") from None
        shape = tuple(-1 if d is None else int(d) for d in self._model.inputs[0].shape)
        out = tuple(-1 if d is None else int(d) for d in self._model.outputs[0].shape)
        self._input_info = TensorInfo(self._model.inputs[0].name, shape, "float32")
        out_dtype = np.dtype(self._model.outputs[0].dtype.name if hasattr(self._model.outputs[0].dtype, "name")
                             else str(self._model.outputs[0].dtype)).name
        self._output_info = TensorInfo(self._model.outputs[0].name, out, out_dtype)
        sig = tf.TensorSpec((None,) + shape[1:], tf.float32)
        self._fn = tf.function(lambda x: self._model(x, training=False), input_signature=[sig])
        self._tf = tf
        self._y: Any = None

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
