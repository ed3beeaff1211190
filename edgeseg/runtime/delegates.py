"""External TFLite delegates (EdgeTPU, Hexagon, Arm NN, vendor NPUs) and LiteRT NPU dispatch libraries."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Iterable

from edgeseg.errors import RuntimeBackendError, UsageError, one_line

log = logging.getLogger(__name__)

#: Loads a delegate: ``(library_path, options) -> delegate``; tests replace it.
DelegateLoader = Callable[[str, dict[str, str]], Any]


def parse_delegate_options(items: Iterable[str] | None) -> dict[str, str]:
    """``["k=v", "a=b"]`` -> ``{"k": "v", "a": "b"}`` (values stay strings, as delegates receive them).

    Raises:
        UsageError: an item without ``=`` or with an empty key, or a key given twice.
    """
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--delegate-option wants KEY=VALUE, got {item!r}")
        if key in out:
            raise UsageError(f"--delegate-option {key} given twice")
        out[key] = value.strip()
    return out


def _default_loader(library: str, options: dict[str, str]) -> Any:
    from ai_edge_litert.interpreter import load_delegate

    return load_delegate(library, options or None)


def load_external_delegate(library: str | Path, options: dict[str, str] | None = None,
                           loader: DelegateLoader | None = None) -> Any:
    """Load a TFLite delegate shared library through ``ai_edge_litert.interpreter.load_delegate``.

    Args:
        library: Path to the delegate ``.so`` (e.g. ``libedgetpu.so.1``, ``libhexagon_delegate.so``).
        options: Delegate options, passed as strings (e.g. ``{"device": "usb"}`` for EdgeTPU).
        loader: Replaces the LiteRT loader (tests).

    Raises:
        RuntimeBackendError: the file is missing, or it is not a loadable TFLite delegate.
    """
    path = Path(library)
    if not path.is_file():
        raise RuntimeBackendError(f"delegate library {path}: no such file")
    opts = {str(k): str(v) for k, v in (options or {}).items()}
    log.debug("loading delegate %s with options %s", path, opts)
    try:
        return (loader or _default_loader)(str(path), opts)
    except (ValueError, RuntimeError, OSError) as exc:
        reason = one_line(exc, 200)
        raise RuntimeBackendError(f"delegate library {path}: cannot be loaded as a TFLite delegate ({reason})") \
            from None


def dispatch_dir(path: str | Path) -> str:
    """The folder LiteRT searches for an NPU dispatch library (``libLiteRtDispatch_*.so``).

    Accepts the library file itself or the folder holding it.

    Raises:
        RuntimeBackendError: neither exists, or a folder without a dispatch library.
    """
    p = Path(path)
    if p.is_file():
        if not p.name.startswith(("libLiteRtDispatch", "LiteRtDispatch")):
            log.warning("%s does not look like a LiteRT dispatch library (libLiteRtDispatch_*.so)", p.name)
        return str(p.resolve().parent)
    if p.is_dir():
        if not any(p.glob("libLiteRtDispatch*.so")) and not any(p.glob("LiteRtDispatch*.dll")):
            raise RuntimeBackendError(f"NPU dispatch folder {p}: holds no libLiteRtDispatch_*.so")
        return str(p.resolve())
    raise RuntimeBackendError(f"NPU dispatch library {p}: no such file")
