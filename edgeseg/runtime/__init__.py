"""Inference engines behind one interface; ``load(path)`` picks one from the file's format.

Imports no TensorFlow: each engine module is imported only when a backend of it is asked for,
and the Keras baseline (``keras``) lives in :mod:`edgeseg.runtime.keras_backend`, which only
``load(..., backend="keras")`` imports.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any

from edgeseg.errors import ModelError, RuntimeBackendError, UsageError
from edgeseg.runtime.base import Backend, TensorInfo

log = logging.getLogger(__name__)

#: Registry: backend name -> "module:Class" (imported lazily). A new engine is one module holding a
#: :class:`~edgeseg.runtime.base.Backend` subclass, one line here (plus, if wanted, its aliases and the formats
#: it is the default for, below) and one tester subclass in tests/runtime (docs/extending.md).
BACKENDS: dict[str, str] = {
    "litert": "edgeseg.runtime.litert_backend:LiteRTInterpreterBackend",
    "litert-compiled": "edgeseg.runtime.litert_compiled:LiteRTCompiledBackend",
    "onnxruntime": "edgeseg.runtime.onnx_backend:OnnxRuntimeBackend",
    "keras": "edgeseg.runtime.keras_backend:KerasBackend",
}
#: Other spellings accepted on the command line.
ALIASES: dict[str, str] = {
    "tflite": "litert", "interpreter": "litert", "compiled": "litert-compiled",
    "compiledmodel": "litert-compiled", "ort": "onnxruntime", "onnx": "onnxruntime", "tf": "keras",
}
#: The backend used for a format when none is named.
DEFAULT_BACKEND: dict[str, str] = {"tflite": "litert", "onnx": "onnxruntime", "h5": "keras", "keras": "keras",
                                   "savedmodel": "keras"}

__all__ = ["Backend", "TensorInfo", "BACKENDS", "load", "preload", "backend_class", "backends_for", "available_backends",
           "canonical_name", "default_threads"]


def default_threads() -> int:
    """The thread count every runtime uses when none is given: the CPU cores this process may use.

    One default for all engines (LiteRT's own is 1, ONNX Runtime's the physical cores), so a
    comparison of two runtimes never compares one core against two.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def canonical_name(name: str) -> str:
    """Registry name of a backend spelling; :class:`UsageError` for unknown names."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in BACKENDS:
        raise UsageError(f"unknown backend {name!r} (known: {', '.join(BACKENDS)})")
    return key


def backend_class(name: str) -> type[Backend]:
    """The class of a backend by name (imports its module, not its engine)."""
    module, _, cls = BACKENDS[canonical_name(name)].partition(":")
    return getattr(importlib.import_module(module), cls)


def backends_for(fmt: str) -> list[str]:
    """Registered backends that load a file format (``tflite``, ``onnx``, ``h5``)."""
    return [n for n in BACKENDS if fmt in backend_class(n).formats]


def available_backends(fmt: str | None = None) -> list[str]:
    """Backends whose engine is installed (optionally only those for ``fmt``)."""
    names = backends_for(fmt) if fmt else list(BACKENDS)
    return [n for n in names if backend_class(n).engine_version() is not None]


def preload(fmt: str) -> None:
    """Import the default engine of a format (``tflite``, ``onnx``) now; see :meth:`Backend.preload`."""
    name = DEFAULT_BACKEND.get(fmt)
    if name:
        backend_class(name).preload()


def load(path: str | os.PathLike[str], backend: str | None = None, threads: int | None = None,
         **options: Any) -> Backend:
    """Open an artifact with an inference engine.

    Args:
        path: A ``.tflite``, ``.onnx`` or Keras ``.h5`` file (format sniffed from its bytes).
        backend: Registry name or alias; ``None`` picks the default for the format.
        threads: CPU threads for the engine (``None``: :func:`default_threads`, the usable cores); the
            backend's ``threads`` attribute holds the count used.
        **options: Backend-specific options (see each class's ``OPTIONS``); ``None`` values are dropped.

    Raises:
        ModelError: missing/corrupt file, or a format the backend cannot load.
        RuntimeBackendError: the engine or accelerator is unavailable, or it rejected the model.
        UsageError: unknown backend or option, bad thread count.
    """
    from edgeseg.core.fileio import sniff_model_format
    from edgeseg.core.manifest import Manifest

    fmt = sniff_model_format(path)
    name = canonical_name(backend) if backend else DEFAULT_BACKEND[fmt]
    cls = backend_class(name)
    if fmt not in cls.formats:
        raise ModelError(f"{path}: is a {fmt} file; backend {name} loads {' or '.join(cls.formats)}")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise UsageError(f"threads must be a positive integer, got {threads!r}")
    threads = default_threads() if threads is None else threads
    opts = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(opts) - set(cls.OPTIONS))
    if unknown:
        known = ", ".join(cls.OPTIONS) or "none"
        raise UsageError(f"backend {name} has no option {unknown[0]!r} (options: {known})")
    if cls.engine_version() is None:
        raise RuntimeBackendError(f"backend {name} is not installed (pip install 'edgeseg[{cls.extra}]')")
    log.debug("loading %s with %s (threads=%s, options=%s)", path, name, threads, opts)
    be = cls(path, threads=threads, **opts)
    be.manifest = Manifest.for_artifact(path)
    return be

