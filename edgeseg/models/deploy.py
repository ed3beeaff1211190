"""Exact inference-time rewrites of trained models for a particular runtime.

A rewrite returns a model that computes the same function (to float rounding) with a graph the
target runtime runs faster. The exporters apply them and record what they did in the artifact's
manifest; the parity check of ``edgeseg convert`` compares the result with the original model.
"""

from __future__ import annotations

from typing import Any, Callable


def for_onnxruntime_int8(model: Any) -> tuple[Any, list[str]]:
    """``(model, notes)`` for ONNX Runtime's channels-last int8 CPU kernels (QDQ export).

    ENet's channel concatenations keep ORT's NHWC layout transformer from converting anything after
    them: they are rebuilt as adds of zero-padded projections (:func:`edgeseg.models.enet.merge_as_add`),
    and its head's 1x1 classifier is folded into the transposed conv before it
    (:func:`edgeseg.models.enet.fuse_transpose_head`). Other models are returned unchanged, no notes.
    """
    from edgeseg.models.enet import fuse_transpose_head, merge_as_add

    rewrites = (
        (merge_as_add, "enet: the 3 channel concats (initial block, downsampling bottlenecks) rebuilt as adds of "
                       "zero-padded 1x1 projections, same function, so ONNX Runtime keeps the int8 graph channels-last"),
        (fuse_transpose_head, "enet: the head's 2x2/2 transposed conv and 1x1 classifier folded into one transposed "
                              "conv (same function; the full-resolution 11-channel int8 conv was 15 % of the int8 time)"),
    )
    notes = []
    for fn, note in rewrites:
        rewritten = _rewrite(model, fn)
        if rewritten is not None:
            model = rewritten
            notes.append(note)
    return model, notes


def _rewrite(model: Any, fn: Callable[[Any], Any | None]) -> Any | None:
    """``fn(model)``, or ``model`` with one nested model replaced by ``fn(nested)`` (the exporters
    see the zoo model wrapped with its input and head layers); ``None`` when ``fn`` applies nowhere."""
    new = fn(model)
    if new is not None:
        return new
    for sub in getattr(model, "layers", []):
        if not hasattr(sub, "layers"):
            continue
        new_sub = fn(sub)
        if new_sub is not None:
            from edgeseg._keras import keras

            # every other layer is reused as it is (same weights); only the nested model is swapped
            return keras.models.clone_model(model, clone_function=lambda layer: new_sub if layer is sub else layer)
    return None


__all__ = ["for_onnxruntime_int8"]
