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


def test_sensitivity_specificity() -> None:
    # class 0: g = (1, 0), p = (.75, .2): sens err .25^2 = .0625, spec err .2^2 = .04
    # class 1: g = (0, 1), p = (.25, .8): sens err .2^2 = .04, spec err .25^2 = .0625
    expect = ((0.05 * 0.0625 + 0.95 * 0.04) + (0.05 * 0.04 + 0.95 * 0.0625)) / 2
    assert _value("sens_spec") == pytest.approx(expect, rel=1e-5)


def test_exponential_logarithmic() -> None:
    dice_c = _ti(0.5, 0.5)
    l_dice = sum((-math.log(d)) ** 0.3 for d in dice_c) / 2
    l_ce = ((-math.log(P0)) ** 0.3 + (-math.log(P1)) ** 0.3) / 2
    assert _value("exp_log") == pytest.approx(0.8 * l_dice + 0.2 * l_ce, rel=1e-5)
    weighted = (2.0 * (-math.log(P0)) ** 0.3 + 0.5 * (-math.log(P1)) ** 0.3) / 2.5
    assert _value("exp_log", [2.0, 0.5]) == pytest.approx(0.8 * l_dice + 0.2 * weighted, rel=1e-5)


def test_boundary_loss() -> None:
    # 1x3 row, void at x=2 (counted outside every region). Signed chessboard distances
    # phi_0 = d(x, {0}) - d(x, {1, 2}) = (-1, 1, 2); phi_1 = d(x, {1}) - d(x, {0, 2}) = (1, -1, 1).
    # valid pixels: x=0: (-1 * .75 + 1 * .25) / 2 = -.25; x=1: (1 * .2 - 1 * .8) / 2 = -.3
    assert _value("boundary") == pytest.approx((-0.25 - 0.3) / 2, rel=1e-5)


def test_hausdorff_dt_loss() -> None:
    # distance to each region's boundary, ground truth and prediction (p > .5; the void pixel predicts
    # class 0), is 1 at both valid pixels for both classes: err = (p - g)^2 (1 + 1)
    px0 = ((0.75 - 1) ** 2 * 2 + 0.25 ** 2 * 2) / 2
    px1 = (0.2 ** 2 * 2 + (0.8 - 1) ** 2 * 2) / 2
    assert _value("hausdorff_dt") == pytest.approx((px0 + px1) / 2, rel=1e-5)


def test_distance_maps() -> None:
    from edgeseg.train.boundary import distance_to

    point = np.zeros((1, 7, 7, 1), np.float32)
    point[0, 3, 3, 0] = 1
    yy, xx = np.mgrid[:7, :7]
    chess = np.maximum(abs(yy - 3), abs(xx - 3))
    np.testing.assert_array_equal(distance_to(tf.constant(point), reach=5).numpy()[0, ..., 0], chess)
    np.testing.assert_array_equal(distance_to(tf.constant(point), reach=2).numpy()[0, ..., 0], np.minimum(chess, 2))
    assert np.all(distance_to(tf.zeros((1, 4, 4, 1)), reach=3).numpy() == 3)


def test_losses_combine_as_weighted_sums() -> None:
    assert _value("ce+dice") == pytest.approx(_value("combo"), rel=1e-6)
    assert _value("0.5*ce + 2*boundary") == pytest.approx(0.5 * _value("ce") + 2 * _value("boundary"), rel=1e-5)
    assert _value("ce+0.1*sens_spec", [2.0, 0.5]) == pytest.approx(
        _value("ce", [2.0, 0.5]) + 0.1 * _value("sens_spec"), rel=1e-5)
    for bad, msg in (("ce+nope", "unknown loss"), ("x*ce", "number"), ("0*ce", "> 0")):
        with pytest.raises(UsageError, match=msg):
            make_loss(bad, VOID)
    with pytest.raises(UsageError, match="no class weights"):
        make_loss("dice+boundary", VOID, [1.0, 2.0])


@pytest.mark.parametrize("name", ["sens_spec", "exp_log", "boundary", "hausdorff_dt", "ce+dice+0.1*boundary"])
def test_new_losses_ignore_void_and_have_gradients(name: str) -> None:
    loss = make_loss(name, VOID)
    z = tf.Variable(LOGITS)
    with tf.GradientTape() as tape:
        value = loss(tf.constant(LABELS), z)
    g = tape.gradient(value, z).numpy()
    assert np.isfinite(float(value)) and np.all(np.isfinite(g)) and np.abs(g[0, 0, :2]).sum() > 0
    assert np.all(g[0, 0, 2] == 0)


def test_pixel_ce_matches_the_fused_kernel_in_value_and_gradient() -> None:
    """The logsumexp form of cross-entropy equals TensorFlow's fused op, also for logits far apart (|z| 80)."""
    from edgeseg.train.losses import pixel_ce

    rng = np.random.default_rng(0)
    z = tf.Variable(np.concatenate([rng.normal(size=(500, 11)) * 4, rng.normal(size=(12, 11)) * 80]).astype(np.float32))
    y = tf.constant(rng.integers(0, 11, size=512).astype(np.int32))
    with tf.GradientTape(persistent=True) as tape:
        ours = pixel_ce(y, z)
        ref = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=z)
        s_ours, s_ref = tf.reduce_sum(ours), tf.reduce_sum(ref)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-5, atol=2e-5)
    np.testing.assert_allclose(tape.gradient(s_ours, z).numpy(), tape.gradient(s_ref, z).numpy(), atol=1e-6)


@pytest.mark.parametrize("name", ["ce", "combo", "focal", "exp_log", "ce+dice+0.1*boundary"])
def test_xla_compiled_loss_has_the_same_value_and_gradient(name: str) -> None:
    """The Trainer runs the loss XLA-compiled on CPU: same value and gradient as the plain ops, void ignored."""
    from edgeseg.train.losses import compiled

    rng = np.random.default_rng(1)
    labels = tf.constant(rng.integers(0, VOID + 1, size=(2, 16, 24)).astype(np.uint8))
    z = tf.Variable((rng.normal(size=(2, 16, 24, VOID)) * 3).astype(np.float32))
    plain = make_loss(name, VOID)
    fast = compiled(plain, VOID)
    assert fast is not plain and getattr(fast, "_jit_compile", None) is True
    grads = []
    for fn in (plain, fast):
        with tf.GradientTape() as tape:
            value = fn(labels, z)
        grads.append((float(value), tape.gradient(value, z).numpy()))
    (v0, g0), (v1, g1) = grads
    assert v1 == pytest.approx(v0, rel=1e-5)
    np.testing.assert_allclose(g1, g0, atol=1e-6)
    assert np.abs(g1).sum() > 0 and np.all(g1[labels.numpy() == VOID] == 0)


def test_a_loss_xla_cannot_compile_runs_without_it(caplog: pytest.LogCaptureFixture) -> None:
    from edgeseg.train.losses import compiled

    def host_loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:  # a py_function has no XLA kernel
        return tf.py_function(lambda z: tf.reduce_mean(z), [logits], tf.float32)

    assert compiled(host_loss, VOID) is host_loss
    assert "XLA cannot compile the loss" in caplog.text
