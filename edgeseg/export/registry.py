"""Target name -> exporter. A new format is one module plus one line here (docs/extending.md).

Everything that lists targets reads this registry: ``convert``'s flags and ``--all``, ``bench --matrix``,
the accuracy guard (:func:`guarded_targets`) and the parametrised export tests.
"""

from __future__ import annotations

from edgeseg.errors import UsageError
from edgeseg.export import onnx, tflite
from edgeseg.export.base import Exporter

EXPORTERS: dict[str, Exporter] = {e.name: e for e in (*tflite.EXPORTERS, *onnx.EXPORTERS)}


def get_exporter(name: str) -> Exporter:
    """The exporter of a target name (``fp32``, ``int8``, ``onnx-int8``, ...)."""
    try:
        return EXPORTERS[name]
    except KeyError:
        raise UsageError(f"unknown export target {name!r} (known: {', '.join(EXPORTERS)})") from None


def list_targets() -> list[str]:
    """All target names, in the order ``--all`` exports them."""
    return list(EXPORTERS)


def guarded_targets() -> list[str]:
    """Targets the accuracy guard (``--max-miou-drop``) can re-quantise: those with a ``guard_strategy``."""
    return [name for name, e in EXPORTERS.items() if e.guard_strategy]
