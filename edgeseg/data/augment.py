"""Joint image + label-map augmentation in TensorFlow: one affine resample, photometric jitter.

Every geometric change (resize to the training resolution, random scale, crop position,
horizontal flip, small rotation) is folded into ONE affine map (``ImageProjectiveTransformV3``'s
convention) that is applied to the image (bilinear) and to the label map (nearest) with the same
matrix, so the two can never drift apart and the image is resampled only once. Pixels that come
from outside the frame are void in the label map and the mean colour (0 after normalisation) in
the image. The resampling gathers from the frame cache's flat arrays directly (no per-sample copy
of the frame) and is XLA-compiled together with the colour changes into one loop over the output
pixels.

Randomness is stateless: each sample gets its own ``seed`` (shape ``[2]``), so a pipeline with a
fixed seed yields bit-identical batches on every run.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from edgeseg._keras import tf
from edgeseg.errors import UsageError


@dataclass(frozen=True)
class Augment:
    """Augmentation ranges (all applied jointly to image and mask).

    Attributes:
        scale: ``(min, max)`` zoom factor relative to the training resolution, log-uniform.
        rotation: Max absolute rotation in degrees (uniform in ``[-rotation, rotation]``).
        hflip: Flip left-right with probability 0.5.
        brightness: Max absolute brightness shift on [0, 1] pixels.
        contrast: Contrast factor drawn from ``[1 - contrast, 1 + contrast]`` (around the image mean).
        saturation: Saturation factor drawn from ``[1 - saturation, 1 + saturation]`` (around each
            pixel's grey value; 0 turns the crop grey).
        gamma: Gamma drawn log-uniformly from ``[1 / gamma, gamma]`` (> 1 darkens the mid-tones: dusk
            and shade); 1 for none.
        channel_gain: Per-channel gains drawn from ``[1 - channel_gain, 1 + channel_gain]`` (white
            balance, colour casts).
    """

    scale: tuple[float, float] = (0.75, 1.5)
    rotation: float = 5.0
    hflip: bool = True
    brightness: float = 0.1
    contrast: float = 0.2
    saturation: float = 0.0
    gamma: float = 1.0
    channel_gain: float = 0.0

    def __post_init__(self) -> None:
        lo, hi = self.scale
        if not 0 < lo <= hi:
            raise UsageError(f"scale range must satisfy 0 < min <= max, got {self.scale}")
        if not 0 <= self.rotation <= 45:
            raise UsageError(f"rotation must be within 0..45 degrees, got {self.rotation}")
        if not 0 <= self.brightness < 1 or not 0 <= self.contrast < 1:
            raise UsageError("brightness and contrast must be within [0, 1)")
        if not 0 <= self.saturation <= 1 or not 0 <= self.channel_gain < 1:
            raise UsageError("saturation must be within [0, 1] and channel gain within [0, 1)")
        if not 1 <= self.gamma <= 4:
            raise UsageError(f"gamma must be within 1..4 (the range is [1/gamma, gamma]), got {self.gamma}")

    @classmethod
    def none(cls) -> "Augment":
        """No augmentation at all (still crops/resizes to the training size)."""
        return cls(scale=(1.0, 1.0), rotation=0.0, hflip=False, brightness=0.0, contrast=0.0)

    @property
    def photometric(self) -> bool:
        """Whether any colour change is drawn."""
        return bool(self.brightness or self.contrast or self.saturation or self.gamma > 1 or self.channel_gain)

    def to_dict(self) -> dict:
        """JSON-ready dict (for the training manifest)."""
        return {"scale": list(self.scale), "rotation": self.rotation, "hflip": self.hflip,
                "brightness": self.brightness, "contrast": self.contrast, "saturation": self.saturation,
                "gamma": self.gamma, "channel_gain": self.channel_gain}


@dataclass(frozen=True)
class _Draw:
    """The random numbers of one sample (tensors)."""

    scale: tf.Tensor
    angle: tf.Tensor
    flip: tf.Tensor
    cx: tf.Tensor
    cy: tf.Tensor
    brightness: tf.Tensor
    contrast: tf.Tensor
    saturation: tf.Tensor
    gamma: tf.Tensor
    gain: tf.Tensor  # [3]

    @property
    def colour(self) -> tf.Tensor:
        """``[brightness, contrast, saturation, gamma, gain_r, gain_g, gain_b]``."""
        return tf.concat([tf.stack([self.brightness, self.contrast, self.saturation, self.gamma]), self.gain], 0)


def _draw(aug: Augment, seed: tf.Tensor, out_hw: tuple[int, int], base_hw: tf.Tensor) -> _Draw:
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=7)

    def uni(i: int, lo: float, hi: float) -> tf.Tensor:
        return tf.random.stateless_uniform([], seeds[i], lo, hi, dtype=tf.float32)

    lo, hi = aug.scale
    scale = tf.exp(uni(0, math.log(lo), math.log(hi))) if hi > lo else tf.constant(lo, tf.float32)
    rot = math.radians(aug.rotation)
    angle = uni(1, -rot, rot) if rot > 0 else tf.constant(0.0)
    flip = tf.where(uni(2, 0.0, 1.0) < 0.5, -1.0, 1.0) if aug.hflip else tf.constant(1.0)
    # Crop centre in the scaled frame; when the scaled frame is smaller than the crop, the frame
    # lands at a random place inside the crop (the rest is void).
    oh, ow = float(out_hw[0]), float(out_hw[1])
    sh, sw = base_hw[0] * scale, base_hw[1] * scale
    cy_lo, cy_hi = tf.minimum(oh / 2, sh - oh / 2), tf.maximum(oh / 2, sh - oh / 2)
    cx_lo, cx_hi = tf.minimum(ow / 2, sw - ow / 2), tf.maximum(ow / 2, sw - ow / 2)
    cy = cy_lo + (cy_hi - cy_lo) * uni(3, 0.0, 1.0)
    cx = cx_lo + (cx_hi - cx_lo) * uni(4, 0.0, 1.0)
    b = uni(5, -aug.brightness, aug.brightness) if aug.brightness > 0 else tf.constant(0.0)
    c = uni(6, 1.0 - aug.contrast, 1.0 + aug.contrast) if aug.contrast > 0 else tf.constant(1.0)
    # the colour draws added later come from a folded-in seed, so the draws above stay what they were
    more = tf.random.experimental.stateless_split(
        tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), 1), num=3)
    sat = (tf.random.stateless_uniform([], more[0], 1.0 - aug.saturation, 1.0 + aug.saturation)
           if aug.saturation > 0 else tf.constant(1.0))
    g = math.log(aug.gamma)
    gamma = tf.exp(tf.random.stateless_uniform([], more[1], -g, g)) if g > 0 else tf.constant(1.0)
    gain = (tf.random.stateless_uniform([3], more[2], 1.0 - aug.channel_gain, 1.0 + aug.channel_gain)
            if aug.channel_gain > 0 else tf.ones([3]))
    return _Draw(scale, angle, flip, cx, cy, b, c, sat, gamma, gain)


def affine_matrix(in_hw: tf.Tensor, base_hw: tf.Tensor, out_hw: tuple[int, int], d: _Draw) -> tf.Tensor:
    """The 8-vector of ``ImageProjectiveTransformV3`` mapping output pixels to input pixels.

    Continuous coordinates use pixel centres at ``i + 0.5``. An output point ``p`` is taken
    relative to the crop centre, flipped, rotated, moved to the crop centre ``(cx, cy)`` in the
    scaled frame, then divided by the total scale (frame -> base size -> random zoom).
    """
    in_hw = tf.cast(in_hw, tf.float32)
    base_hw = tf.cast(base_hw, tf.float32)
    sy = base_hw[0] / in_hw[0] * d.scale
    sx = base_hw[1] / in_hw[1] * d.scale
    oh, ow = float(out_hw[0]), float(out_hw[1])
    cos, sin = tf.cos(d.angle), tf.sin(d.angle)
    ox, oy = 0.5 - ow / 2, 0.5 - oh / 2
    a0, a1 = d.flip * cos / sx, -sin / sx
    a2 = (d.cx + d.flip * cos * ox - sin * oy) / sx - 0.5
    b0, b1 = d.flip * sin / sy, cos / sy
    b2 = (d.cy + d.flip * sin * ox + cos * oy) / sy - 0.5
    return tf.stack([a0, a1, a2, b0, b1, b2, 0.0, 0.0])


def _pixel_grid(matrix: tf.Tensor, out_hw: tuple[int, int]) -> tuple[tf.Tensor, tf.Tensor]:
    """Input coordinates ``(x, y)`` (pixel indices) of every output pixel, as ``ImageProjectiveTransformV3``."""
    gy, gx = tf.meshgrid(tf.range(out_hw[0], dtype=tf.float32), tf.range(out_hw[1], dtype=tf.float32), indexing="ij")
    return matrix[0] * gx + matrix[1] * gy + matrix[2], matrix[3] * gx + matrix[4] * gy + matrix[5]


def _bilinear(pixels: tf.Tensor, offset: tf.Tensor, hw: tf.Tensor, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Bilinear samples ``[oh, ow, 4]`` float32 (0..255) of packed RGBA ``pixels`` (flat int32, the frame's
    first pixel at ``offset``, ``hw`` its size) at ``(x, y)``; neighbours outside the frame count as 0
    (``ImageProjectiveTransformV3``'s CONSTANT fill with 0, to float rounding)."""
    h, w = hw[0], hw[1]
    x0, y0 = tf.floor(x), tf.floor(y)
    fx, fy = x - x0, y - y0
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    out = None
    for dy, dx, weight in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        xi, yi = x0 + dx, y0 + dy
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        index = offset + tf.cast(tf.clip_by_value(yi, 0, h - 1) * w + tf.clip_by_value(xi, 0, w - 1), tf.int64)
        rgba = tf.cast(tf.bitcast(tf.gather(pixels, index), tf.uint8), tf.float32)
        tap = rgba * tf.where(inside, weight, 0.0)[..., None]
        out = tap if out is None else out + tap
    return out


def _nearest(labels: tf.Tensor, offset: tf.Tensor, hw: tf.Tensor, x: tf.Tensor, y: tf.Tensor, fill: int) -> tf.Tensor:
    """Nearest samples ``[oh, ow]`` uint8 of flat ``labels`` at ``(x, y)``; ``fill`` outside the frame."""
    h, w = hw[0], hw[1]
    xi, yi = tf.cast(tf.floor(x + 0.5), tf.int32), tf.cast(tf.floor(y + 0.5), tf.int32)
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    index = offset + tf.cast(tf.clip_by_value(yi, 0, h - 1) * w + tf.clip_by_value(xi, 0, w - 1), tf.int64)
    return tf.where(inside, tf.gather(labels, index), tf.constant(fill, labels.dtype))


def with_coverage(image: tf.Tensor) -> tf.Tensor:
    """``HxWx3`` uint8 -> ``HxWx4`` uint8 with a constant 255 fourth channel (see :func:`augment_pair`)."""
    return tf.concat([image, tf.fill(tf.concat([tf.shape(image)[:2], [1]], 0), tf.constant(255, tf.uint8))], -1)


def pack_rgba(rgba: np.ndarray) -> np.ndarray:
    """``[..., 4]`` uint8 RGBA -> flat int32, one pixel per element (the layout :func:`augment_frame` reads)."""
    return np.ascontiguousarray(rgba, np.uint8).reshape(-1, 4).view(np.int32).reshape(-1)


def _photometric(rgb: tf.Tensor, a: tf.Tensor, aug: Augment, colour: tf.Tensor) -> tf.Tensor:
    """Colour changes on premultiplied ``rgb`` (coverage ``a``), clipped to ``[0, a]``: gamma and channel
    gains (on the un-premultiplied values), saturation around each pixel's grey, then contrast around
    the crop's grey mean and brightness. ``colour`` is :attr:`_Draw.colour`."""
    brightness, contrast, saturation, gamma, gain = colour[0], colour[1], colour[2], colour[3], colour[4:]
    if aug.gamma > 1:
        rgb = tf.pow(tf.math.divide_no_nan(rgb, a), gamma) * a
    if aug.channel_gain > 0:
        rgb = tf.minimum(rgb * gain, a)
    if aug.saturation > 0:
        pixel_grey = tf.reduce_mean(rgb, axis=-1, keepdims=True)
        rgb = tf.clip_by_value(pixel_grey + saturation * (rgb - pixel_grey), 0.0, a)
    if aug.brightness > 0 or aug.contrast > 0:
        grey = tf.math.divide_no_nan(tf.reduce_sum(rgb), 3.0 * tf.reduce_sum(a))  # mean over in-frame pixels
        rgb = tf.clip_by_value(rgb * contrast + a * (grey * (1.0 - contrast) + brightness), 0.0, a)
    return rgb


@functools.lru_cache(maxsize=None)
def _renderer(out_hw: tuple[int, int], aug: Augment, bgr: bool, void: int,
              jit: bool) -> Callable[..., tuple[tf.Tensor, tf.Tensor]]:
    """The per-sample resampling + colour + normalisation + label map, XLA-compiled into one fused loop
    over the output pixels when ``jit`` (benchmarks/augment_speed.py, 256x320 crop, 2 threads: 1.3 ms per sample, against
    4.0 ms for ``ImageProjectiveTransformV3`` resampling the RGBA image alone, and a training batch of 8 in
    15 CPU ms against 59 with the same ops uncompiled). Only the random draws stay outside, so they are
    the same with or without XLA."""

    def render(pixels: tf.Tensor, labels: tf.Tensor, offset: tf.Tensor, hw: tf.Tensor, matrix: tf.Tensor,
               colour: tf.Tensor, mean: tf.Tensor, std: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x, y = _pixel_grid(matrix, out_hw)
        w = _bilinear(pixels, offset, hw, x, y) * (1.0 / 255.0)
        rgb, a = w[..., :3], w[..., 3:]
        if aug.photometric:
            rgb = _photometric(rgb, a, aug, colour)
        out = (rgb - a * mean) / std
        if bgr:
            out = out[..., ::-1]
        return out, _nearest(labels, offset, hw, x, y, void)

    return tf.function(render, jit_compile=jit)


#: XLA-compile the per-sample resampling (see :func:`_renderer`); off, the same ops run one by one.
JIT = True


def augment_frame(pixels: tf.Tensor, labels: tf.Tensor, offset: tf.Tensor, hw: tf.Tensor, seed: tf.Tensor, *,
                  out_hw: tuple[int, int], base_hw: tuple[int, int] | None, aug: Augment, mean: tf.Tensor,
                  std: tf.Tensor, bgr: bool, void: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Augment one frame held in flat arrays of many (the training cache, read without a copy).

    Only output pixels are computed. The frame is packed RGBA (:func:`pack_rgba`) whose A channel is
    255: resampling it bilinearly with 0 outside the frame gives each output pixel the fraction ``a``
    of it that lies inside the frame, and the colour channels come out premultiplied by ``a``. So
    applying the affine colour maps to ``(rgb, a)`` as ``c * rgb + a * offset`` and clipping to
    ``[0, a]`` equals jittering and normalising the frame before the warp, with out-of-frame pixels
    exactly 0 (the mean colour). Contrast pivots on the grey mean of the crop's in-frame pixels.

    Args:
        pixels: Packed RGBA pixels (flat int32) of one or many frames; ``labels`` their flat uint8 labels.
        offset: Index of this frame's first pixel in both; ``hw`` its ``(h, w)``.
        seed: Shape ``[2]``; the sample's random draws.
        out_hw: Output (crop) size.
        base_hw: Size the frame is first resized to (the model's input size), or ``None`` to keep
            the frame's native resolution (pad mode).
        aug: Ranges of the random changes.
        mean, std: Normalisation on [0, 1] pixels (RGB order).
        bgr: Whether the model wants BGR channel order.
        void: Label given to pixels from outside the frame.

    Returns:
        ``(out_h, out_w, 3)`` float32 normalised image and ``(out_h, out_w)`` uint8 mask.
    """
    in_hw = tf.cast(hw, tf.int32)
    base = tf.cast(in_hw if base_hw is None else tf.constant(base_hw), tf.float32)
    d = _draw(aug, seed, out_hw, base)
    render = _renderer(tuple(out_hw), aug, bool(bgr), int(void), JIT)
    x, y = render(pixels, labels, tf.cast(offset, tf.int64), in_hw, affine_matrix(in_hw, base, out_hw, d),
                  d.colour, tf.cast(mean, tf.float32), tf.cast(std, tf.float32))
    x.set_shape((out_hw[0], out_hw[1], 3))
    y.set_shape(out_hw)
    return x, y


def augment_pair(image: tf.Tensor, mask: tf.Tensor, seed: tf.Tensor, *, out_hw: tuple[int, int],
                 base_hw: tuple[int, int] | None, aug: Augment, mean: tf.Tensor, std: tf.Tensor,
                 bgr: bool, void: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Augment one ``HxWx3`` (or ``HxWx4`` with coverage 255) uint8 image and its ``HxW`` uint8 mask:
    :func:`augment_frame` on a single frame."""
    if image.shape[-1] != 4:
        image = with_coverage(image)
    pixels = tf.bitcast(tf.reshape(image, [-1, 4]), tf.int32)
    return augment_frame(pixels, tf.reshape(tf.cast(mask, tf.uint8), [-1]), tf.constant(0, tf.int64),
                         tf.shape(image)[:2], seed, out_hw=out_hw, base_hw=base_hw, aug=aug, mean=mean, std=std,
                         bgr=bgr, void=void)
