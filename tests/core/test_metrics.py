"""Metrics against an independent computation (scikit-learn) on random maps with void pixels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, f1_score, jaccard_score, precision_score

from edgeseg.core.metrics import ConfusionMatrix, scores_from_matrix
from edgeseg.errors import DataError

N, VOID = 6, 255


def _random_maps(seed: int, shape=(4, 37, 53)):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, N, size=shape).astype(np.uint8)
    pred = np.where(rng.random(shape) < 0.6, truth, rng.integers(0, N, size=shape)).astype(np.uint8)
    truth[rng.random(shape) < 0.1] = VOID
    return truth, pred


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_sklearn(seed):
    truth, pred = _random_maps(seed)
    cm = ConfusionMatrix(N, VOID)
    for t, p in zip(truth, pred):  # accumulate batch by batch
        cm.update(t, p)
    keep = truth != VOID
    t, p = truth[keep], pred[keep]
    np.testing.assert_array_equal(cm.matrix, confusion_matrix(t, p, labels=list(range(N))))
    s = cm.scores()
    np.testing.assert_allclose(s.iou, jaccard_score(t, p, labels=list(range(N)), average=None))
    assert s.miou == pytest.approx(jaccard_score(t, p, labels=list(range(N)), average="macro"))
    np.testing.assert_allclose(s.dice, f1_score(t, p, labels=list(range(N)), average=None))
    assert s.pixel_accuracy == pytest.approx(np.mean(t == p))
    recall = [np.mean(p[t == c] == c) for c in range(N)]
    np.testing.assert_allclose(s.class_accuracy, recall)
    assert s.mean_class_accuracy == pytest.approx(np.mean(recall))
    np.testing.assert_allclose(s.precision, precision_score(t, p, labels=list(range(N)), average=None))
    assert s.to_dict()["per_class_precision"] == pytest.approx(list(s.precision))
    freq = np.bincount(t, minlength=N) / t.size
    assert s.fw_iou == pytest.approx(float(np.sum(freq * s.iou)))
    assert s.pixels == t.size


def test_absent_class_is_nan_and_left_out_of_means():
    truth = np.array([[0, 0, 1, 1]])
    pred = np.array([[0, 0, 1, 0]])
    cm = ConfusionMatrix(3)
    cm.update(truth, pred)
    s = cm.scores()
    assert np.isnan(s.iou[2]) and np.isnan(s.dice[2]) and np.isnan(s.precision[2])
    assert s.miou == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_class_only_predicted_counts_as_zero():
    cm = ConfusionMatrix(3)
    cm.update(np.array([0, 0]), np.array([0, 2]))
    s = cm.scores()
    assert s.iou[2] == 0.0 and s.miou == pytest.approx((0.5 + 0.0) / 2)


def test_void_never_counted():
    cm = ConfusionMatrix(2, void_index=11)
    cm.update(np.array([11, 11, 11]), np.array([0, 1, 1]))
    assert cm.matrix.sum() == 0
    assert np.isnan(cm.scores().miou)


def test_out_of_range_labels_raise():
    cm = ConfusionMatrix(3, void_index=11)
    with pytest.raises(DataError, match="label value 5"):
        cm.update(np.array([5]), np.array([0]))
    with pytest.raises(DataError, match="predicted class 7"):
        cm.update(np.array([0]), np.array([7]))
    with pytest.raises(DataError, match="shape"):
        cm.update(np.zeros((2, 2)), np.zeros((2, 3)))


def test_merge_equals_single_pass():
    truth, pred = _random_maps(5)
    a, b, whole = ConfusionMatrix(N, VOID), ConfusionMatrix(N, VOID), ConfusionMatrix(N, VOID)
    a.update(truth[:2], pred[:2])
    b.update(truth[2:], pred[2:])
    whole.update(truth, pred)
    a.merge(b)
    np.testing.assert_array_equal(a.matrix, whole.matrix)
    assert scores_from_matrix(a.matrix).to_dict()["miou"] == whole.scores().miou


def test_class_map_is_the_argmax_of_scores_and_passes_class_maps_through() -> None:
    from edgeseg.core.metrics import class_map

    scores = np.zeros((2, 3, 4, 5), np.float32)
    scores[0, 1, 2, 4] = 1.0
    scores[1, :, :, 3] = 0.5
    labels = class_map(scores)
    assert labels.shape == (2, 3, 4) and labels.dtype == np.uint8
    assert labels[0, 1, 2] == 4 and labels[0, 0, 0] == 0 and (labels[1] == 3).all()
    given = np.arange(12, dtype=np.uint8).reshape(1, 3, 4)
    assert class_map(given) is given
