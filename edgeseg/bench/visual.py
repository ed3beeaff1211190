"""Mask and overlay PNGs for predictions (palette masks in the spec's colours)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.core.fileio import atomic_path
from edgeseg.core.spec import Spec
from edgeseg.core.visual import overlay


def save_mask_png(labels: np.ndarray, spec: Spec, path: Path) -> Path:
    """Write a class map as a palette PNG (mode ``P``, the spec's colours), atomically."""
    from PIL import Image

    im = Image.fromarray(np.asarray(labels, dtype=np.uint8), mode="P")
    im.putpalette([v for rgb in spec.palette_array() for v in rgb])
    with atomic_path(path) as tmp:
        im.save(tmp, format="PNG")
    return path


def save_overlay_png(image: np.ndarray, labels: np.ndarray, spec: Spec, path: Path, alpha: float = 0.5) -> Path:
    """Write the class colours blended over the RGB frame, atomically."""
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(overlay(image, labels, spec, alpha)).save(tmp, format="PNG")
    return path


def save_overlays(dataset: Any, kept: dict[str, np.ndarray], spec: Spec, out_dir: Path) -> list[str]:
    """Overlay PNGs for kept predictions (keyed by sample stem); returns the written paths."""
    paths = []
    index = {s.stem: i for i, s in enumerate(dataset.samples)}
    for stem, labels in kept.items():
        image = dataset.read_image(index[stem])
        paths.append(str(save_overlay_png(image, labels, spec, out_dir / f"{stem}.overlay.png")))
    return paths
