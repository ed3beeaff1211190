"""MiouScorer, the one mIoU tally of verify, the guard and bench, against a confusion matrix worked out by hand."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from edgeseg.core.metrics import MiouScorer
from edgeseg.errors import DataError

VOID = 255
LABELS = np.array([[0, 0, 1],
                   [2, VOID, 1]], np.uint8)
PRED = np.array([[0, 1, 1],
                 [2, 0, 2]], np.uint8)
# By hand, void pixel (1, 1) left out; rows truth, columns prediction:
#   truth 0: predicted 0 at (0,0), 1 at (0,1)
#   truth 1: predicted 1 at (0,2), 2 at (1,2)
#   truth 2: predicted 2 at (1,0)
MATRIX = np.array([[1, 1, 0],
                   [0, 1, 1],
                   [0, 0, 1]])
# IoU = tp / (truth + predicted - tp): class 0 1/(2+1-1), class 1 1/(2+2-1), class 2 1/(1+2-1)
IOU = np.array([1 / 2, 1 / 3, 1 / 2])
MIOU = 4 / 9


def _logits(pred: np.ndarray, classes: int = 3) -> np.ndarray:
    """(1, H, W, C) scores whose argmax is ``pred`` (the runner-up one below, so argmax is not trivial)."""
    y = np.zeros((1, *pred.shape, classes), np.float32)
    y[0, ..., :] = np.linspace(0.5, 0.1, classes)
    np.put_along_axis(y[0], pred[..., None].astype(np.int64), 3.0, axis=-1)
    return y


@pytest.mark.parametrize("form", ["logits", "batch class map", "class map"])
def test_hand_computed_matrix_and_miou(form: str) -> None:
    output = {"logits": _logits(PRED), "batch class map": PRED[None], "class map": PRED}[form]
    s = MiouScorer(3, VOID)
    got = s.add(LABELS, output)
    np.testing.assert_array_equal(s.matrix, MATRIX)
    assert s.pixels == 5
    assert s.miou() == pytest.approx(MIOU, abs=1e-12)
    np.testing.assert_allclose(s.scores().iou, IOU)
    np.testing.assert_array_equal(np.asarray(got).reshape(PRED.shape), PRED)  # the class map it scored


def test_frames_accumulate_and_spec_gives_classes_and_void() -> None:
    s = MiouScorer.for_spec(SimpleNamespace(num_classes=3, void_index=VOID))
    s.add(LABELS, _logits(PRED))
    s.add(LABELS, PRED[None])
    np.testing.assert_array_equal(s.matrix, 2 * MATRIX)
    assert s.miou() == pytest.approx(MIOU, abs=1e-12)  # ratios unchanged by doubling every count


def test_out_of_range_prediction_raises_not_clipped() -> None:
    """An artifact predicting class 3 of 3 is a class-count mismatch: clipping it to class 2 would score it."""
    s = MiouScorer(3, VOID)
    bad = PRED.copy()
    bad[1, 0] = 3
    with pytest.raises(DataError, match="predicted class 3 is outside 0..2"):
        s.add(LABELS, bad[None])
    assert s.pixels == 0


def test_nothing_scored_is_nan() -> None:
    s = MiouScorer(3, VOID)
    assert s.pixels == 0 and np.isnan(s.miou())
    s.add(np.full((2, 3), VOID, np.uint8), PRED)  # all void: still nothing labelled
    assert s.pixels == 0 and np.isnan(s.miou())


def test_shape_mismatch_raises() -> None:
    with pytest.raises(DataError, match="shape"):
        MiouScorer(3, VOID).add(LABELS, np.zeros((2, 2, 3), np.uint8))  # a batch of two is not one frame
