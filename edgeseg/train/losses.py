"""Segmentation losses on logits; every one ignores void pixels (label == ignore or >= classes).

Signature of every loss: ``loss(labels uint8/int [B,H,W], logits float [B,H,W,C]) -> scalar``.
Region losses (Dice, Tversky, ...) are computed over the whole batch per class, then averaged
over the classes present in the batch's labels or predictions (absent classes would score a
vacuous 1 and dilute the gradient). Boundary losses live in :mod:`edgeseg.train.boundary`.
Terms combine as a weighted sum: ``ce+dice`` (= ``combo``), ``ce+dice+0.1*boundary``.
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence

from edgeseg._keras import tf
from edgeseg.errors import UsageError

log = logging.getLogger(__name__)
Loss = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
LOSSES = ("ce", "focal", "dice", "tversky", "focal_tversky", "log_cosh_dice", "combo", "sens_spec", "exp_log",
          "boundary", "hausdorff_dt")
#: Losses that take per-class weights.
WEIGHTED = ("ce", "focal", "combo", "exp_log")
SMOOTH = 1.0


def _prepare(labels: tf.Tensor, logits: tf.Tensor, ignore: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Flat int labels (void -> 0), a float validity mask, float32 logits ``[N, C]``."""
    c = tf.shape(logits)[-1]
    logits = tf.reshape(tf.cast(logits, tf.float32), [-1, c])
    y = tf.reshape(tf.cast(labels, tf.int32), [-1])
    valid = tf.logical_and(tf.not_equal(y, ignore), tf.logical_and(y >= 0, y < c))
    y = tf.where(valid, y, 0)
    return y, tf.cast(valid, tf.float32), logits


def pixel_ce(y: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
    """Per-pixel softmax cross-entropy ``logsumexp(z) - z[y]`` of flat int labels ``[N]`` and float32 logits
    ``[N, C]``: the value and gradient of ``tf.nn.sparse_softmax_cross_entropy_with_logits`` (to ~1e-7), as
    reductions over the class axis, which TensorFlow's CPU kernels run faster than the fused op on the
    narrow (11-class) axis of segmentation (benchmarks/bf16_profile.py: 51 -> 33 ms of CPU per 8x256x320
    batch)."""
    m = tf.stop_gradient(tf.reduce_max(z, axis=-1, keepdims=True))
    lse = tf.math.log(tf.reduce_sum(tf.exp(z - m), axis=-1)) + m[:, 0]
    picked = tf.reduce_sum(z * tf.one_hot(y, tf.shape(z)[-1], dtype=z.dtype), axis=-1)
    return lse - picked


def _class_weights(y: tf.Tensor, weights: Sequence[float] | None) -> tf.Tensor:
    if weights is None:
        return tf.ones_like(y, tf.float32)
    return tf.gather(tf.constant(weights, tf.float32), y)


def cross_entropy(ignore: int, class_weights: Sequence[float] | None = None) -> Loss:
    """Softmax cross-entropy, averaged over valid pixels; with ``class_weights`` each pixel is
    weighted by its class's weight and the sum is divided by the sum of weights (as PyTorch)."""

    def loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        y, valid, z = _prepare(labels, logits, ignore)
        ce = pixel_ce(y, z)
        w = _class_weights(y, class_weights) * valid
        return tf.math.divide_no_nan(tf.reduce_sum(ce * w), tf.reduce_sum(w))

    return loss


def focal(ignore: int, gamma: float = 2.0, class_weights: Sequence[float] | None = None) -> Loss:
    """Focal loss (Lin et al. 2017): ``-alpha_y (1 - p_y)^gamma log p_y``, mean over valid pixels
    (``alpha`` = class weights if given, normalised like :func:`cross_entropy`)."""

    def loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        y, valid, z = _prepare(labels, logits, ignore)
        ce = pixel_ce(y, z)
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


def sensitivity_specificity(ignore: int, w: float = 0.05) -> Loss:
    """Sensitivity-specificity loss (Brosch et al. 2015), per class then averaged over present classes:
    ``w sum((g - p)^2 g) / sum(g) + (1 - w) sum((g - p)^2 (1 - g)) / sum(1 - g)`` over valid pixels.
    ``w`` weighs the (squared) sensitivity error; the specificity term dominates by default."""

    def loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        y, valid, z = _prepare(labels, logits, ignore)
        p = tf.nn.softmax(z)
        g = tf.one_hot(y, tf.shape(z)[-1], dtype=tf.float32)
        sq = tf.square(g - p) * valid[:, None]
        sens = tf.math.divide_no_nan(tf.reduce_sum(sq * g, 0), tf.reduce_sum(g * valid[:, None], 0))
        spec = tf.math.divide_no_nan(tf.reduce_sum(sq * (1 - g), 0), tf.reduce_sum((1 - g) * valid[:, None], 0))
        hard = tf.one_hot(tf.argmax(z, axis=-1), tf.shape(z)[-1], dtype=tf.float32) * valid[:, None]
        present = tf.cast(tf.reduce_sum(g * valid[:, None] + hard, axis=0) > 0, tf.float32)
        return _mean_present(w * sens + (1.0 - w) * spec, present)

    return loss


def exp_log(ignore: int, class_weights: Sequence[float] | None = None, gamma: float = 0.3,
            w_dice: float = 0.8, w_ce: float = 0.2) -> Loss:
    """Exponential logarithmic loss (Wong et al. 2018): ``w_dice mean_c (-ln Dice_c)^gamma +
    w_ce mean_x w_y (-ln p_y)^gamma`` (``Dice_c`` the soft Dice of :func:`dice`, over present classes;
    ``w_y`` the class weights, 1 without them, normalised like :func:`cross_entropy`)."""

    def loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        tp, fp, fn, present = _region_stats(labels, logits, ignore)
        dice_c = tversky_index(tp, fp, fn, 0.5, 0.5)
        l_dice = _mean_present(tf.pow(-tf.math.log(dice_c), gamma), present)
        y, valid, z = _prepare(labels, logits, ignore)
        ce = pixel_ce(y, z)
        wt = _class_weights(y, class_weights) * valid
        l_ce = tf.math.divide_no_nan(tf.reduce_sum(wt * tf.pow(ce + 1e-12, gamma)), tf.reduce_sum(wt))
        return w_dice * l_dice + w_ce * l_ce

    return loss


def _term(key: str, ignore: int, class_weights: Sequence[float] | None) -> Loss:
    from edgeseg.train import boundary as b

    if key in WEIGHTED:
        return {"ce": cross_entropy, "focal": lambda i, class_weights=None: focal(i, class_weights=class_weights),
                "combo": combo, "exp_log": exp_log}[key](ignore, class_weights=class_weights)
    return {"dice": dice, "tversky": tversky, "focal_tversky": focal_tversky, "log_cosh_dice": log_cosh_dice,
            "sens_spec": sensitivity_specificity, "boundary": b.boundary, "hausdorff_dt": b.hausdorff_dt}[key](ignore)


def parse_loss(name: str) -> list[tuple[float, str]]:
    """``"ce+dice+0.1*boundary"`` -> ``[(1.0, "ce"), (1.0, "dice"), (0.1, "boundary")]``."""
    terms = []
    for raw in name.lower().replace("-", "_").replace(" ", "").split("+"):
        weight, star, key = raw.rpartition("*")
        if not star:
            weight, key = "1", raw
        try:
            w = float(weight)
        except ValueError:
            raise UsageError(f"loss term {raw!r}: the weight before '*' must be a number") from None
        if key not in LOSSES:
            raise UsageError(f"unknown loss {key!r} (choose from {', '.join(LOSSES)}, or a sum like ce+dice)")
        if not w > 0:
            raise UsageError(f"loss term {raw!r}: the weight must be > 0")
        terms.append((w, key))
    return terms


def make_loss(name: str, ignore: int, class_weights: Sequence[float] | None = None) -> Loss:
    """The loss ``name``: one of :data:`LOSSES` or a weighted sum of them (``ce+dice+0.1*boundary``).
    Class weights apply to the terms in :data:`WEIGHTED` (at least one must be present)."""
    terms = parse_loss(name)
    if class_weights is not None and not any(key in WEIGHTED for _, key in terms):
        raise UsageError(f"loss {name!r} takes no class weights (they apply to {', '.join(WEIGHTED)})")
    fns = [(w, _term(key, ignore, class_weights)) for w, key in terms]
    if len(fns) == 1 and fns[0][0] == 1.0:
        return fns[0][1]

    def loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        return tf.add_n([w * fn(labels, logits) for w, fn in fns])

    return loss


def compiled(loss: Loss, num_classes: int) -> Loss:
    """``loss`` XLA-compiled (forward and gradient), for steps whose convolutions stay outside XLA.

    The losses are long chains of element-wise ops and class-axis reductions over every pixel, which
    TensorFlow's kernels run one full pass each; XLA fuses them (benchmarks/loss_speed.py, 8x256x320
    logits of 11 classes, value and gradient, wall ms on 2 cores: combo 72 -> 43, ce 18.7 -> 18.3).
    Probed once on a tiny batch: where XLA cannot compile it, ``loss`` itself is returned (with a warning).
    """
    fn = tf.function(loss, jit_compile=True)
    try:
        fn(tf.zeros([1, 8, 8], tf.uint8), tf.zeros([1, 8, 8, num_classes], tf.float32))
    except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, NotImplementedError) as exc:
        log.warning("XLA cannot compile the loss, it runs without XLA: %s", str(exc).splitlines()[0])
        return loss
    return fn
