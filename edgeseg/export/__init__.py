"""Export: one Exporter interface, one small module per format, verification against Keras.

``convert_model(model_path, targets, out_dir=None, *, calib=None, ...)`` is the entry point other layers use
(:func:`edgeseg.export.convert.convert_model`, documented in docs/api.md). It is resolved on first access, so
``import edgeseg.export`` loads nothing heavy, and it is the real function: ``help()`` and
``inspect.signature`` show its typed parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from edgeseg.export.convert import convert_model

__all__ = ["convert_model", "list_targets"]


def __getattr__(name: str) -> Any:
    if name == "convert_model":
        from edgeseg.export.convert import convert_model as fn

        return fn
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def list_targets() -> list[str]:
    """Target names accepted by :func:`convert_model`."""
    from edgeseg.export.registry import list_targets as _targets

    return _targets()
