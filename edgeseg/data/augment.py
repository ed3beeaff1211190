"""Joint image + label-map augmentation in TensorFlow: one affine resample, photometric jitter.

Every geometric change (resize to the training resolution, random scale, crop position,
horizontal flip, small rotation) is folded into ONE projective transform that is applied to
the image (bilinear) and to the label map (nearest) with the same matrix, so the two can never
drift apart and the image is resampled only once. Pixels that come from outside the frame are
void in the label map and the mean colour (0 after normalisation) in the image.

Randomness is stateless: each sample gets its own ``seed`` (shape ``[2]``), so a pipeline with a
fixed seed yields bit-identical batches on every run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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


def _warp(x: tf.Tensor, matrix: tf.Tensor, out_hw: tuple[int, int], fill: float, interp: str) -> tf.Tensor:
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x[None], transforms=matrix[None], output_shape=tf.constant(out_hw, tf.int32),
        fill_value=tf.constant(fill, tf.float32), interpolation=interp, fill_mode="CONSTANT")[0]


def with_coverage(image: tf.Tensor) -> tf.Tensor:
    """``HxWx3`` uint8 -> ``HxWx4`` uint8 with a constant 255 fourth channel (see :func:`augment_pair`)."""
    return tf.concat([image, tf.fill(tf.concat([tf.shape(image)[:2], [1]], 0), tf.constant(255, tf.uint8))], -1)


def _photometric(rgb: tf.Tensor, a: tf.Tensor, aug: Augment, d: _Draw) -> tf.Tensor:
    """Colour changes on premultiplied ``rgb`` (coverage ``a``), clipped to ``[0, a]``: gamma and channel
    gains (on the un-premultiplied values), saturation around each pixel's grey, then contrast around
    the crop's grey mean and brightness."""
    if aug.gamma > 1:
        rgb = tf.pow(tf.math.divide_no_nan(rgb, a), d.gamma) * a
    if aug.channel_gain > 0:
        rgb = tf.minimum(rgb * d.gain, a)
    if aug.saturation > 0:
        pixel_grey = tf.reduce_mean(rgb, axis=-1, keepdims=True)
        rgb = tf.clip_by_value(pixel_grey + d.saturation * (rgb - pixel_grey), 0.0, a)
    if aug.brightness > 0 or aug.contrast > 0:
        grey = tf.math.divide_no_nan(tf.reduce_sum(rgb), 3.0 * tf.reduce_sum(a))  # mean over in-frame pixels
        rgb = tf.clip_by_value(rgb * d.contrast + a * (grey * (1.0 - d.contrast) + d.brightness), 0.0, a)
    return rgb


def augment_pair(image: tf.Tensor, mask: tf.Tensor, seed: tf.Tensor, *, out_hw: tuple[int, int],
                 base_hw: tuple[int, int] | None, aug: Augment, mean: tf.Tensor, std: tf.Tensor,
                 bgr: bool, void: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Augment one ``HxWx3`` uint8 image and its ``HxW`` uint8 mask.

    Only output pixels are computed: the uint8 frame (with a coverage channel of 255, which
    callers may provide already as ``HxWx4`` to save a copy) is warped first, then the
    photometric change and the normalisation run on the crop. Warping the coverage channel
    with fill 0 gives each output pixel the fraction ``a`` of it that lies inside the frame; the
    colour channels come out premultiplied by ``a`` (fill 0), so applying the affine colour maps
    to ``(rgb, a)`` as ``c * rgb + a * offset`` and clipping to ``[0, a]`` equals jittering and
    normalising the frame before the warp, with out-of-frame pixels exactly 0 (the mean colour).
    Contrast pivots on the grey mean of the crop's in-frame pixels. Bilinear output is rounded
    to uint8 (at most 0.5/255, far below the jitter).

    Args:
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
    if image.shape[-1] != 4:
        image = with_coverage(image)
    in_hw = tf.shape(image)[:2]
    base = tf.cast(in_hw if base_hw is None else tf.constant(base_hw), tf.float32)
    d = _draw(aug, seed, out_hw, base)
    m = affine_matrix(in_hw, base, out_hw, d)
    w = tf.cast(_warp(image, m, out_hw, 0.0, "BILINEAR"), tf.float32) * (1.0 / 255.0)
    rgb, a = w[..., :3], w[..., 3:]
    if aug.photometric:
        rgb = _photometric(rgb, a, aug, d)
    x = (rgb - a * mean) / std
    if bgr:
        x = x[..., ::-1]
    y = _warp(tf.cast(mask, tf.uint8)[..., None], m, out_hw, float(void), "NEAREST")[..., 0]
    x.set_shape((out_hw[0], out_hw[1], 3))
    y.set_shape(out_hw)
    return x, y
