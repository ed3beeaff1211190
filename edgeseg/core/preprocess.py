"""Numpy preprocessing shared by training, calibration and every runtime: resize, normalise."""

from __future__ import annotations

import numpy as np

from edgeseg.core.spec import Spec


def _axis_weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Half-pixel centres, as tf.image.resize(method="bilinear", antialias=False).
    scale = n_in / n_out
    x = (np.arange(n_out, dtype=np.float64) + 0.5) * scale - 0.5
    x = np.clip(x, 0.0, None)
    lo = np.minimum(np.floor(x).astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = (x - lo).astype(np.float32)
    return lo, hi, frac


def resize_bilinear(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``HxWxC`` to ``size`` (h, w) with bilinear, half-pixel centres, no antialias; float32."""
    h, w = size
    img = np.asarray(image, dtype=np.float32)
    if img.shape[:2] == (h, w):
        return img
    y0, y1, fy = _axis_weights(img.shape[0], h)
    x0, x1, fx = _axis_weights(img.shape[1], w)
    top = img[y0]
    bot = img[y1]
    rows = top + (bot - top) * fy[:, None, None]
    left = rows[:, x0]
    right = rows[:, x1]
    return left + (right - left) * fx[None, :, None]


def resize_nearest(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a ``HxW`` label map to ``size`` with nearest neighbour (half-pixel centres)."""
    h, w = size
    lab = np.asarray(labels)
    if lab.shape[:2] == (h, w):
        return lab
    ys = np.minimum(((np.arange(h) + 0.5) * lab.shape[0] / h).astype(np.int64), lab.shape[0] - 1)
    xs = np.minimum(((np.arange(w) + 0.5) * lab.shape[1] / w).astype(np.int64), lab.shape[1] - 1)
    return lab[ys[:, None], xs[None, :]]


def normalise(image: np.ndarray, spec: Spec) -> np.ndarray:
    """uint8/float RGB pixels in [0, 255] -> float32 ``(x/255 - mean) / std`` in the spec's channel order."""
    x = np.asarray(image, dtype=np.float32) * np.float32(1.0 / 255.0)
    mean, std = np.asarray(spec.mean, np.float32), np.asarray(spec.std, np.float32)
    if x.shape[-1] == 1:  # grayscale models: the first channel's mean/std
        mean, std = mean[:1], std[:1]
    x = (x - mean) / std
    if spec.channel_order == "BGR":
        x = x[..., ::-1]
    return np.ascontiguousarray(x, dtype=np.float32)


def preprocess(image: np.ndarray, spec: Spec, size: tuple[int, int] | None = None, channels: int = 3) -> np.ndarray:
    """RGB ``HxWx3`` uint8 image -> float32 ``HxWxC`` model input (resize then normalise; ``channels=1``: the
    luminance, for grayscale models)."""
    return normalise(resize_bilinear(to_channels(image, channels), size or spec.input_size), spec)


def to_gray(image: np.ndarray) -> np.ndarray:
    """RGB ``HxWx3`` -> ``HxWx1`` luminance (ITU-R 601-2, what Pillow's ``convert("L")`` computes), float32."""
    x = np.asarray(image, dtype=np.float32)
    if x.ndim == 2:
        return x[..., None]
    if x.shape[-1] == 1:
        return x
    return (x[..., :3] @ np.asarray([0.299, 0.587, 0.114], np.float32))[..., None]


def to_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """An RGB image as the model's channels: unchanged for 3, luminance for 1."""
    return to_gray(image) if channels == 1 else image


def to_uint8_input(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """RGB image -> resized uint8 pixels, for models whose graph takes raw uint8 pixels."""
    x = resize_bilinear(image, size)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: np.dtype) -> np.ndarray:
    """Affine quantisation ``round(x / scale) + zero_point``, clipped to ``dtype``'s range."""
    info = np.iinfo(dtype)
    q = np.rint(np.asarray(x, np.float32) / np.float32(scale)) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Inverse of :func:`quantize`, as float32."""
    return (np.asarray(q, np.float32) - np.float32(zero_point)) * np.float32(scale)
