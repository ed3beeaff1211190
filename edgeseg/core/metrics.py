"""Segmentation metrics from an accumulated confusion matrix, void pixels ignored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeseg.errors import DataError


@dataclass
class Scores:
    """Metrics of one confusion matrix. Per-class arrays hold NaN for classes that are absent.

    Attributes:
        iou: Per-class intersection over union.
        miou: Mean IoU over classes present in ground truth or prediction.
        dice: Per-class Dice (F1).
        mean_dice: Mean Dice over the same classes as ``miou``.
        pixel_accuracy: Correct pixels / labelled (non-void) pixels.
        class_accuracy: Per-class recall (correct / ground-truth pixels of the class).
        precision: Per-class precision (correct / predicted pixels of the class; NaN if never
            predicted). Next to ``class_accuracy`` (recall) it shows whether a class loses IoU by
            being missed or by being over-predicted, as class-weighted losses tend to do.
        mean_class_accuracy: Mean of ``class_accuracy`` over classes present in ground truth.
        fw_iou: Frequency-weighted IoU (weights = ground-truth pixel share).
        pixels: Number of labelled pixels counted.
    """

    iou: np.ndarray
    miou: float
    dice: np.ndarray
    mean_dice: float
    pixel_accuracy: float
    class_accuracy: np.ndarray
    precision: np.ndarray
    mean_class_accuracy: float
    fw_iou: float
    pixels: int

    def to_dict(self, class_names: tuple[str, ...] | list[str] | None = None,
                percent: bool = False) -> dict[str, Any]:
        """JSON-ready dict; per-class values keyed by class name when names are given (NaN -> None).

        ``percent``: every score in percent (0..100, as papers report mIoU) under keys ending in
        ``_pct`` (``miou_pct``, ``per_class_iou_pct``, ...); otherwise fractions under the plain keys.
        """
        scale, tag = (100.0, "_pct") if percent else (1.0, "")

        def one(v: float) -> Any:
            return None if v != v else scale * float(v)

        def per_class(a: np.ndarray) -> Any:
            vals = [one(v) for v in a]
            if class_names is None:
                return vals
            return dict(zip(class_names, vals))

        return {
            f"miou{tag}": one(self.miou),
            f"per_class_iou{tag}": per_class(self.iou),
            f"mean_dice{tag}": one(self.mean_dice),
            f"per_class_dice{tag}": per_class(self.dice),
            f"pixel_accuracy{tag}": one(self.pixel_accuracy),
            f"per_class_accuracy{tag}": per_class(self.class_accuracy),
            f"mean_class_accuracy{tag}": one(self.mean_class_accuracy),
            f"per_class_precision{tag}": per_class(self.precision),
            f"fw_iou{tag}": one(self.fw_iou),
            "pixels": self.pixels,
        }


class ConfusionMatrix:
    """Accumulates a ``num_classes x num_classes`` confusion matrix (rows: truth, cols: prediction).

    Pixels whose ground truth equals ``void_index`` are skipped. Ground-truth values outside
    ``0..num_classes-1`` that are not void, and predictions outside that range, raise
    :class:`DataError`: silently dropping them would hide a class-count mismatch.

    Absent classes: a class with no ground-truth and no predicted pixel has an undefined IoU
    (0/0). It is reported as NaN and left out of every mean, so mIoU is the mean over classes
    that occur in the ground truth or the prediction. A class that only occurs in the
    prediction has IoU 0 and counts. Only the running matrix is kept, never the predictions.
    """

    def __init__(self, num_classes: int, void_index: int | None = None) -> None:
        if num_classes < 1:
            raise ValueError("num_classes must be >= 1")
        self.num_classes = num_classes
        self.void_index = void_index
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)

    def reset(self) -> None:
        """Forget everything accumulated."""
        self.matrix[:] = 0

    def update(self, truth: np.ndarray, pred: np.ndarray) -> None:
        """Add a batch (any shape, same for both) of integer label maps."""
        truth = np.asarray(truth)
        pred = np.asarray(pred)
        if truth.shape != pred.shape:
            raise DataError(f"label map shape {truth.shape} != prediction shape {pred.shape}")
        t = truth.reshape(-1).astype(np.int64, copy=False)
        p = pred.reshape(-1).astype(np.int64, copy=False)
        if self.void_index is not None:
            keep = t != self.void_index
            t, p = t[keep], p[keep]
        n = self.num_classes
        if t.size and (t.min() < 0 or t.max() >= n):
            bad = int(t[(t < 0) | (t >= n)][0])
            raise DataError(f"label value {bad} is outside classes 0..{n - 1} and not void")
        if p.size and (p.min() < 0 or p.max() >= n):
            bad = int(p[(p < 0) | (p >= n)][0])
            raise DataError(f"predicted class {bad} is outside 0..{n - 1}")
        self.matrix += np.bincount(t * n + p, minlength=n * n).reshape(n, n)

    def merge(self, other: "ConfusionMatrix") -> None:
        """Add another matrix of the same shape (e.g. from a worker)."""
        if other.matrix.shape != self.matrix.shape:
            raise ValueError("confusion matrices differ in class count")
        self.matrix += other.matrix

    def scores(self) -> Scores:
        """Compute every metric from the accumulated matrix."""
        return scores_from_matrix(self.matrix)


def class_map(y: np.ndarray) -> np.ndarray:
    """Class indices from a model output: the argmax over the last axis of ``(N, H, W, C)`` scores, or an
    ``(N, H, W)`` map (an argmax head's output) as it is."""
    y = np.asarray(y)
    if y.ndim != 4:
        return y
    labels = np.argmax(y, axis=-1)
    return labels.astype(np.uint8) if y.shape[-1] <= 256 else labels


class MiouScorer:
    """The one mIoU tally of model outputs against label maps: export verification, the export guard and
    bench accuracy all score through it.

    ``add`` takes a model output (``(1, H, W, C)`` scores or a ``(1, H, W)`` class map, see
    :func:`class_map`), or an ``(H, W)`` class map, and the frame's ``(H, W)`` label map.

    Predictions are never clipped: a predicted class outside ``0..num_classes-1`` raises
    :class:`DataError`, as in :class:`ConfusionMatrix`. It can only come from an artifact whose class
    count differs from the spec's, and a score over clipped classes would hide that.
    """

    def __init__(self, num_classes: int, void_index: int | None = None) -> None:
        self.cm = ConfusionMatrix(num_classes, void_index)

    @classmethod
    def for_spec(cls, spec: Any) -> "MiouScorer":
        """A scorer over ``spec.num_classes`` classes, ignoring ``spec.void_index``."""
        return cls(spec.num_classes, spec.void_index)

    def add(self, labels: np.ndarray, output: np.ndarray) -> np.ndarray:
        """Score one frame; returns its class map (as :func:`class_map` gives it, batch axis kept)."""
        pred = class_map(output)
        labels = np.asarray(labels)
        one = pred[0] if pred.ndim == labels.ndim + 1 and pred.shape[0] == 1 else pred
        self.cm.update(labels, one)
        return pred

    @property
    def matrix(self) -> np.ndarray:
        """The accumulated confusion matrix (rows: truth, cols: prediction)."""
        return self.cm.matrix

    @property
    def pixels(self) -> int:
        """Labelled (non-void) pixels scored so far."""
        return int(self.cm.matrix.sum())

    def miou(self) -> float:
        """mIoU (0..1) so far; NaN before any labelled pixel."""
        return float(self.cm.scores().miou)

    def scores(self) -> Scores:
        """Every metric of :class:`Scores` so far."""
        return self.cm.scores()


def _nanmean(a: np.ndarray) -> float:
    return float(np.nanmean(a)) if np.any(~np.isnan(a)) else float("nan")


def scores_from_matrix(matrix: np.ndarray) -> Scores:
    """Metrics of a confusion matrix (rows: truth, cols: prediction)."""
    m = np.asarray(matrix, dtype=np.float64)
    tp = np.diag(m)
    gt = m.sum(axis=1)
    pr = m.sum(axis=0)
    union = gt + pr - tp
    total = m.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
        dice = np.where(gt + pr > 0, 2 * tp / (gt + pr), np.nan)
        cls_acc = np.where(gt > 0, tp / gt, np.nan)
        precision = np.where(pr > 0, tp / pr, np.nan)
    freq = gt / total if total > 0 else np.zeros_like(gt)
    fw = float(np.nansum(freq * np.nan_to_num(iou))) if total > 0 else float("nan")
    return Scores(
        iou=iou,
        miou=_nanmean(iou),
        dice=dice,
        mean_dice=_nanmean(dice),
        pixel_accuracy=float(tp.sum() / total) if total > 0 else float("nan"),
        class_accuracy=cls_acc,
        precision=precision,
        mean_class_accuracy=_nanmean(cls_acc),
        fw_iou=fw,
        pixels=int(total),
    )
