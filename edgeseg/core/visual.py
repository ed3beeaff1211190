"""Colour label maps and blend them over images (numpy only)."""

from __future__ import annotations

import numpy as np

from edgeseg.core.spec import Spec


def colorize(labels: np.ndarray, spec: Spec) -> np.ndarray:
    """``HxW`` class indices -> ``HxWx3`` uint8 RGB using the spec's palette (unknown -> black)."""
    lut = np.asarray(spec.palette_array(), dtype=np.uint8)
    return lut[np.clip(np.asarray(labels), 0, 255).astype(np.uint8)]


def overlay(image: np.ndarray, labels: np.ndarray, spec: Spec, alpha: float = 0.5) -> np.ndarray:
    """Blend the colourised ``labels`` over an RGB ``image`` of the same height and width."""
    img = np.asarray(image, dtype=np.float32)
    col = colorize(labels, spec).astype(np.float32)
    if img.shape[:2] != col.shape[:2]:
        raise ValueError(f"image {img.shape[:2]} and label map {col.shape[:2]} differ in size")
    out = img * (1.0 - alpha) + col * alpha
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
