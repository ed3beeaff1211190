"""Every loss against a value computed by hand on a 1x1x3 batch with 2 classes and one void pixel."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgeseg._keras import tf
from edgeseg.core.presets import CAMVID
from edgeseg.errors import UsageError
from edgeseg.train.losses import make_loss
from edgeseg.train.weights import resolve_class_weights

VOID = 11
# Three pixels: class 0, class 1, void. Logits chosen so the softmax is easy: p = (e^a)/(e^a + 1).
LABELS = np.array([[[0, 1, VOID]]], np.uint8)
LOGITS = np.array([[[[math.log(3.0), 0.0], [0.0, math.log(4.0)], [50.0, -50.0]]]], np.float32)
# Softmax of the two valid pixels: pixel 0 -> p(0) = 3/4; pixel 1 -> p(1) = 4/5.
P0, P1 = 0.75, 0.8
# Soft per-class counts over valid pixels: class 0: TP = .75, FP = .2, FN = .25; class 1: TP = .8, FP = .25, FN = .2.
TP, FP, FN = (0.75, 0.8), (0.2, 0.25), (0.25, 0.2)


def _value(name: str, weights=None) -> float:
    return float(make_loss(name, VOID, weights)(tf.constant(LABELS), tf.constant(LOGITS)))


def _ti(alpha: float, beta: float) -> list[float]:
    return [(tp + 1) / (tp + alpha * fp + beta * fn + 1) for tp, fp, fn in zip(TP, FP, FN)]


def test_cross_entropy() -> None:
    assert _value("ce") == pytest.approx((-math.log(P0) - math.log(P1)) / 2, rel=1e-5)


def test_weighted_cross_entropy() -> None:
    expect = (2.0 * -math.log(P0) + 0.5 * -math.log(P1)) / 2.5
    assert _value("ce", [2.0, 0.5]) == pytest.approx(expect, rel=1e-5)


def test_focal() -> None:
    expect = ((1 - P0) ** 2 * -math.log(P0) + (1 - P1) ** 2 * -math.log(P1)) / 2
    assert _value("focal") == pytest.approx(expect, rel=1e-5)


def test_dice() -> None:
    assert _value("dice") == pytest.approx(1 - sum(_ti(0.5, 0.5)) / 2, rel=1e-5)


def test_tversky_and_focal_tversky() -> None:
    ti = _ti(0.3, 0.7)
    assert _value("tversky") == pytest.approx(1 - sum(ti) / 2, rel=1e-5)
    assert _value("focal_tversky") == pytest.approx(sum((1 - t) ** 0.75 for t in ti) / 2, rel=1e-5)


def test_log_cosh_dice_and_combo() -> None:
    d = 1 - sum(_ti(0.5, 0.5)) / 2
    assert _value("log_cosh_dice") == pytest.approx(math.log(math.cosh(d)), rel=1e-5)
    ce = (-math.log(P0) - math.log(P1)) / 2
    assert _value("combo") == pytest.approx(ce + d, rel=1e-5)


def test_void_pixels_do_not_matter_and_gradients_flow() -> None:
    other = LOGITS.copy()
    other[0, 0, 2] = [-50.0, 50.0]
    for name in ("ce", "focal", "dice", "tversky", "focal_tversky", "log_cosh_dice", "combo"):
        loss = make_loss(name, VOID)
        assert float(loss(LABELS, other)) == pytest.approx(_value(name), rel=1e-6)
        z = tf.Variable(LOGITS)
        with tf.GradientTape() as tape:
            value = loss(tf.constant(LABELS), z)
        g = tape.gradient(value, z).numpy()
        assert np.all(np.isfinite(g)) and np.abs(g[0, 0, :2]).sum() > 0 and np.all(g[0, 0, 2] == 0)


def test_class_weight_modes() -> None:
    counts = np.array([100, 10] + [0] * 9)
    assert resolve_class_weights("none", CAMVID) is None
    assert resolve_class_weights("spec", CAMVID)[0] == pytest.approx(0.2595)
    enet = resolve_class_weights("enet", CAMVID, counts)
    assert enet[1] == pytest.approx(1 / math.log(1.02 + 10 / 110))
    med = resolve_class_weights("median", CAMVID, counts, np.array([200, 20] + [0] * 9))
    assert med[:2] == pytest.approx([0.5 / 0.5, 0.5 / 0.5]) and med[2] == 0
    assert len(resolve_class_weights(",".join(["1"] * 11), CAMVID)) == 11
    with pytest.raises(UsageError):
        resolve_class_weights("1,2", CAMVID)
    with pytest.raises(UsageError):
        make_loss("dice", VOID, [1.0, 2.0])
