"""Mask and overlay PNGs for predictions (palette masks in the spec's colours)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.core.fileio import atomic_path
from edgeseg.core.spec import Spec
from edgeseg.core.visual import overlay
from edgeseg.errors import UsageError


def save_mask_png(labels: np.ndarray, spec: Spec, path: Path) -> Path:
    """Write a class map as a palette PNG (mode ``P``, the spec's colours), atomically."""
    from PIL import Image

    im = Image.fromarray(np.asarray(labels, dtype=np.uint8), mode="P")
    im.putpalette([v for rgb in spec.palette_array() for v in rgb])
    with atomic_path(path) as tmp:
        im.save(tmp, format="PNG")
    return path


def save_overlay_png(image: np.ndarray, labels: np.ndarray, spec: Spec, path: Path, alpha: float = 0.5) -> Path:
    """Write the class colours blended over the RGB frame, atomically (``alpha`` in 0..1)."""
    from PIL import Image

    if not 0.0 <= alpha <= 1.0:
        raise UsageError(f"overlay alpha must be between 0 and 1, got {alpha:g}")

    with atomic_path(path) as tmp:
        Image.fromarray(overlay(image, labels, spec, alpha)).save(tmp, format="PNG")
    return path


def legend_image(spec: Spec, swatch: int = 16, width: int = 200) -> np.ndarray:
    """``HxWx3`` uint8 legend: one row per class, its palette colour and its name (index, and ``void``)."""
    from PIL import Image, ImageDraw

    rows = [(i, name) for i, name in enumerate(spec.class_names)]
    if spec.void_index is not None and spec.void_index >= spec.num_classes:
        rows.append((spec.void_index, "void"))
    pad = 4
    im = Image.new("RGB", (width, pad + len(rows) * (swatch + pad)), "white")
    draw = ImageDraw.Draw(im)
    palette = spec.palette_array()
    for k, (index, name) in enumerate(rows):
        y = pad + k * (swatch + pad)
        colour = tuple(int(v) for v in palette[index])
        draw.rectangle([pad, y, pad + swatch, y + swatch], fill=colour, outline="black")
        draw.text((2 * pad + swatch + 2, y + 2), f"{index} {name}", fill="black")
    return np.asarray(im)


def save_legend_png(spec: Spec, path: Path) -> Path:
    """Write :func:`legend_image` (what each overlay colour means) as a PNG, atomically."""
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(legend_image(spec)).save(tmp, format="PNG")
    return path


def save_overlays(dataset: Any, kept: dict[str, np.ndarray], spec: Spec, out_dir: Path) -> list[str]:
    """Overlay PNGs for kept predictions (keyed by sample stem) and ``legend.png``; returns the written paths."""
    paths = []
    index = {s.stem: i for i, s in enumerate(dataset.samples)}
    for stem, labels in kept.items():
        image = dataset.read_image(index[stem])
        paths.append(str(save_overlay_png(image, labels, spec, out_dir / f"{stem}.overlay.png")))
    if paths:
        paths.append(str(save_legend_png(spec, out_dir / "legend.png")))
    return paths
