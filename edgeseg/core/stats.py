"""Dataset statistics: sizes, class pixel frequencies, median-frequency weights, problems found."""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable

import numpy as np

from edgeseg.core.dataset import FolderDataset
from edgeseg.errors import DataError


def median_frequency_weights(pixel_counts: np.ndarray, image_counts: np.ndarray) -> np.ndarray:
    """Eigen & Fergus median-frequency balancing: ``median(freq) / freq(c)``.

    ``freq(c)`` is the pixels of class c divided by the total pixels of the images in which
    c appears. Classes that never appear get weight 0.
    """
    pixel_counts = np.asarray(pixel_counts, np.float64)
    image_counts = np.asarray(image_counts, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        freq = np.where(image_counts > 0, pixel_counts / image_counts, np.nan)
    med = np.nanmedian(freq) if np.any(~np.isnan(freq)) else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(freq > 0, med / freq, 0.0)
    return np.nan_to_num(w)


def enet_weights(pixel_counts: np.ndarray, c: float = 1.02) -> np.ndarray:
    """ENet's class weights ``1 / ln(c + p_class)`` with ``p`` the class's share of labelled pixels."""
    counts = np.asarray(pixel_counts, np.float64)
    p = counts / max(counts.sum(), 1.0)
    return 1.0 / np.log(c + p)


def sequences_of(ds: FolderDataset) -> dict[str, int]:
    """Frames per sequence (see :func:`edgeseg.core.dataset.sequence_of`), sorted by name."""
    return dict(sorted(ds.sequences().items()))


def inspect_dataset(ds: FolderDataset, on_item: Callable[[], None] | None = None,
                    problems: list[str] | None = None) -> dict[str, Any]:
    """Read every sample and summarise it; bad samples are listed under ``problems``, not raised.

    ``problems``: those already found while listing the folders (unpaired or stray files), reported first.
    """
    spec = ds.spec
    n = spec.num_classes
    pixels = np.zeros(n, np.int64)
    # Pixels of the images in which each class appears (median-frequency denominator).
    image_pixels = np.zeros(n, np.int64)
    images_with = np.zeros(n, np.int64)
    void = 0
    sizes: Counter[str] = Counter()
    problems = list(problems or [])
    listed = len(problems)
    for i in range(len(ds)):
        try:
            image, mask = ds.read(i)
        except DataError as exc:
            problems.append(str(exc))
            if on_item:
                on_item()
            continue
        sizes[f"{image.shape[1]}x{image.shape[0]}"] += 1
        if mask is not None:
            counts = np.bincount(mask.reshape(-1), minlength=256)
            pixels += counts[:n]
            present = counts[:n] > 0
            labelled = int(counts[:n].sum())
            image_pixels[present] += labelled
            images_with += present
            if spec.void_index is not None:
                void += int(counts[spec.void_index])
        if on_item:
            on_item()
    total = int(pixels.sum())
    mf = median_frequency_weights(pixels, image_pixels)
    classes = [
        {
            "index": c,
            "name": spec.class_names[c],
            "pixels": int(pixels[c]),
            "frequency": float(pixels[c] / total) if total else 0.0,
            "images": int(images_with[c]),
            "median_frequency_weight": float(mf[c]),
        }
        for c in range(n)
    ]
    return {
        "images": len(ds),
        "images_dir": str(ds.images_dir),
        "masks_dir": str(ds.masks_dir) if ds.masks_dir else None,
        "read_ok": len(ds) - (len(problems) - listed),
        "sequences": sequences_of(ds),
        "sizes": dict(sizes.most_common()),
        "num_classes": n,
        "void_index": spec.void_index,
        "void_pixels": void,
        "labelled_pixels": total,
        "classes": classes,
        "problems": problems,
    }
