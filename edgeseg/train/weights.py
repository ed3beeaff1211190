"""Class weights for the loss: none, from the spec, given, or computed from the training labels."""

from __future__ import annotations

import numpy as np

from edgeseg.core.spec import Spec
from edgeseg.core.stats import enet_weights, median_frequency_weights
from edgeseg.errors import UsageError

WEIGHT_MODES = ("none", "median", "enet", "spec")


def resolve_class_weights(mode: str, spec: Spec, pixel_counts: np.ndarray | None = None,
                          image_pixels: np.ndarray | None = None) -> list[float] | None:
    """Weights for ``mode``: ``none``, ``spec`` (the spec's weights), ``median`` (median frequency),
    ``enet`` (``1/ln(1.02 + p)``) or an explicit ``w1,w2,...`` list.

    Args:
        pixel_counts: Per-class labelled pixels of the training set (median, enet).
        image_pixels: Per class, labelled pixels of the images containing it (median).
    """
    mode = mode.strip().lower()
    n = spec.num_classes
    if mode == "none":
        return None
    if mode == "spec":
        if spec.class_weights is None:
            raise UsageError(f"spec {spec.name!r} has no class weights; use median, enet or w1,w2,...")
        return [float(w) for w in spec.class_weights]
    if mode in ("median", "enet"):
        if pixel_counts is None:
            raise UsageError(f"class weights {mode!r} need the training labels")
        if mode == "median":
            w = median_frequency_weights(pixel_counts, image_pixels)
        else:
            w = enet_weights(pixel_counts)
        return [float(v) for v in w]
    try:
        weights = [float(v) for v in mode.split(",")]
    except ValueError:
        raise UsageError(f"class weights must be one of {', '.join(WEIGHT_MODES)} or w1,w2,...; "
                         f"got {mode!r}") from None
    if len(weights) != n:
        raise UsageError(f"{len(weights)} class weights given for {n} classes")
    if min(weights) < 0 or not all(np.isfinite(weights)):
        raise UsageError("class weights must be finite and >= 0")
    return weights
