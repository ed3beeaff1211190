"""Machine description, package versions and the process's peak resident memory."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

from edgeseg import __version__


def peak_rss_mb() -> float | None:
    """Peak resident set size of this process so far, in MiB.

    Linux: ``VmHWM`` from ``/proc/self/status``, the high-water mark of this process image.
    ``getrusage(...).ru_maxrss`` (used elsewhere) survives ``fork``+``exec`` on Linux, so a
    worker started by a large parent (one holding TensorFlow) would report the parent's peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return kb / (1024.0 * 1024.0) if sys.platform == "darwin" else kb / 1024.0


def cpu_model() -> str:
    """Human-readable CPU model name."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "processor\t: arm")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """CPU model, logical cores (and those this process may use), OS, architecture, Python."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "usable_cores": usable, "arch": platform.machine(),
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version()}


def _version(*dists: str) -> str | None:
    for d in dists:
        try:
            return metadata.version(d)
        except metadata.PackageNotFoundError:
            continue
    return None


def versions() -> dict[str, str | None]:
    """Versions of edgeseg and the engines (read from package metadata: imports nothing)."""
    return {"edgeseg": __version__, "litert": _version("ai-edge-litert"),
            "onnxruntime": _version("onnxruntime", "onnxruntime-gpu"), "numpy": _version("numpy"),
            "tensorflow": _version("tensorflow")}
