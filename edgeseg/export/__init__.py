"""Export: one Exporter interface, one small module per format, verification against Keras.

``convert_model(model_path, targets, out_dir, ...)`` is the entry point other layers use; it is
imported lazily so that ``import edgeseg.export`` loads no TensorFlow.
"""

from __future__ import annotations

from typing import Any

__all__ = ["convert_model", "list_targets"]


def convert_model(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """See :func:`edgeseg.export.convert.convert_model`."""
    from edgeseg.export.convert import convert_model as _convert

    return _convert(*args, **kwargs)


def list_targets() -> list[str]:
    """Target names accepted by :func:`convert_model`."""
    from edgeseg.export.registry import list_targets as _targets

    return _targets()
