"""Segmentation losses on logits; every one ignores void pixels (label == ignore or >= classes).

Signature of every loss: ``loss(labels uint8/int [B,H,W], logits float [B,H,W,C]) -> scalar``.
Region losses (Dice, Tversky, ...) are computed over the whole batch per class, then averaged
over the classes present in the batch's labels or predictions (absent classes would score a
vacuous 1 and dilute the gradient).
"""

from __future__ import annotations

from typing import Callable, Sequence

from edgeseg._keras import tf
from edgeseg.errors import UsageError

Loss = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
LOSSES = ("ce", "focal", "dice", "tversky", "focal_tversky", "log_cosh_dice", "combo")
SMOOTH = 1.0


def _prepare(labels: tf.Tensor, logits: tf.Tensor, ignore: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Flat int labels (void -> 0), a float validity mask, float32 logits ``[N, C]``."""
    c = tf.shape(logits)[-1]
    logits = tf.reshape(tf.cast(logits, tf.float32), [-1, c])
    y = tf.reshape(tf.cast(labels, tf.int32), [-1])
    valid = tf.logical_and(tf.not_equal(y, ignore), tf.logical_and(y >= 0, y < c))
    y = tf.where(valid, y, 0)
    return y, tf.cast(valid, tf.float32), logits


def _class_weights(y: tf.Tensor, weights: Sequence[float] | None) -> tf.Tensor:
    if weights is None:
        return tf.ones_like(y, tf.float32)
    return tf.gather(tf.constant(weights, tf.float32), y)


def cross_entropy(ignore: int, class_weights: Sequence[float] | None = None) -> Loss:
    """Softmax cross-entropy, averaged over valid pixels; with ``class_weights`` each pixel is
    weighted by its class's weight and the sum is divided by the sum of weights (as PyTorch)."""

    def loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        y, valid, z = _prepare(labels, logits, ignore)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=z)
        w = _class_weights(y, class_weights) * valid
        return tf.math.divide_no_nan(tf.reduce_sum(ce * w), tf.reduce_sum(w))

    return loss


def focal(ignore: int, gamma: float = 2.0, class_weights: Sequence[float] | None = None) -> Loss:
    """Focal loss (Lin et al. 2017): ``-alpha_y (1 - p_y)^gamma log p_y``, mean over valid pixels
    (``alpha`` = class weights if given, normalised like :func:`cross_entropy`)."""

    def loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        y, valid, z = _prepare(labels, logits, ignore)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=z)
        p = tf.exp(-ce)
        w = _class_weights(y, class_weights) * valid
        return tf.math.divide_no_nan(tf.reduce_sum(w * (1.0 - p) ** gamma * ce), tf.reduce_sum(w))

    return loss


def _region_stats(labels: tf.Tensor, logits: tf.Tensor, ignore: int) -> tuple[tf.Tensor, ...]:
    """Per-class soft TP, FP, FN over valid pixels, and which classes are present."""
    y, valid, z = _prepare(labels, logits, ignore)
    p = tf.nn.softmax(z) * valid[:, None]
    g = tf.one_hot(y, tf.shape(z)[-1], dtype=tf.float32) * valid[:, None]
    tp = tf.reduce_sum(p * g, axis=0)
    fp = tf.reduce_sum(p, axis=0) - tp
    fn = tf.reduce_sum(g, axis=0) - tp
    hard = tf.one_hot(tf.argmax(z, axis=-1), tf.shape(z)[-1], dtype=tf.float32) * valid[:, None]
    present = tf.cast(tf.reduce_sum(g + hard, axis=0) > 0, tf.float32)
    return tp, fp, fn, present


def _mean_present(values: tf.Tensor, present: tf.Tensor) -> tf.Tensor:
    return tf.math.divide_no_nan(tf.reduce_sum(values * present), tf.reduce_sum(present))


def tversky_index(tp: tf.Tensor, fp: tf.Tensor, fn: tf.Tensor, alpha: float, beta: float) -> tf.Tensor:
    """``(TP + s) / (TP + alpha FP + beta FN + s)`` per class (alpha = beta = 0.5 is Dice)."""
    return (tp + SMOOTH) / (tp + alpha * fp + beta * fn + SMOOTH)


def dice(ignore: int) -> Loss:
    """Soft multi-class Dice loss: ``1 - mean_c (2 TP + s) / (2 TP + FP + FN + s)``, s = 1."""
    return tversky(ignore, 0.5, 0.5)


def tversky(ignore: int, alpha: float = 0.3, beta: float = 0.7) -> Loss:
    """Tversky loss (Salehi et al. 2017): ``1 - mean_c TI_c``; ``alpha`` weighs FP, ``beta`` FN."""

    def loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        tp, fp, fn, present = _region_stats(labels, logits, ignore)
        return _mean_present(1.0 - tversky_index(tp, fp, fn, alpha, beta), present)

    return loss


def focal_tversky(ignore: int, alpha: float = 0.3, beta: float = 0.7, gamma: float = 0.75) -> Loss:
    """Focal Tversky loss (Abraham & Khan 2019): ``mean_c (1 - TI_c)^gamma``."""

    def loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        tp, fp, fn, present = _region_stats(labels, logits, ignore)
        return _mean_present((1.0 - tversky_index(tp, fp, fn, alpha, beta)) ** gamma, present)

    return loss


def log_cosh_dice(ignore: int) -> Loss:
    """Log-cosh Dice loss (Jadon 2020): ``log(cosh(dice_loss))``."""
    d = dice(ignore)

    def loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        return tf.math.log(tf.math.cosh(d(labels, logits)))

    return loss


def combo(ignore: int, class_weights: Sequence[float] | None = None, dice_weight: float = 1.0) -> Loss:
    """Cross-entropy (class-weighted if weights are given) + ``dice_weight`` x soft Dice loss."""
    ce, d = cross_entropy(ignore, class_weights), dice(ignore)

    def loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        return ce(labels, logits) + dice_weight * d(labels, logits)

    return loss


def make_loss(name: str, ignore: int, class_weights: Sequence[float] | None = None) -> Loss:
    """The loss called ``name`` (see :data:`LOSSES`); class weights apply to ce, focal and combo."""
    key = name.lower().replace("-", "_")
    if key not in LOSSES:
        raise UsageError(f"unknown loss {name!r} (choose from {', '.join(LOSSES)})")
    if class_weights is not None and key not in ("ce", "focal", "combo"):
        raise UsageError(f"loss {name!r} takes no class weights (they apply to ce, focal and combo)")
    if key == "ce":
        return cross_entropy(ignore, class_weights)
    if key == "focal":
        return focal(ignore, class_weights=class_weights)
    if key == "combo":
        return combo(ignore, class_weights)
    return {"dice": dice, "tversky": tversky, "focal_tversky": focal_tversky,
            "log_cosh_dice": log_cosh_dice}[key](ignore)
