"""Accuracy of one artifact over a dataset: predictions at the label's native size, core.metrics scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from edgeseg.core.dataset import FolderDataset
from edgeseg.core.metrics import MiouScorer, Scores
from edgeseg.core.preprocess import preprocess, resize_nearest
from edgeseg.core.spec import Spec
from edgeseg.runtime.base import Backend


@dataclass
class AccuracyResult:
    """Scores, the confusion matrix they came from, and a few kept predictions."""

    scores: Scores
    matrix: np.ndarray
    images: int
    kept: dict[str, np.ndarray] = field(default_factory=dict)

    def to_dict(self, class_names: tuple[str, ...] | list[str]) -> dict[str, Any]:
        """``miou_pct``, ``per_class_iou_pct`` (by name), ``pixel_accuracy_pct`` and the rest of core.metrics,
        in percent."""
        d = self.scores.to_dict(class_names, percent=True)
        d["images"] = self.images
        return d


def input_channels(backend: Backend) -> int:
    """Channels of the backend's image input (1: a grayscale model; frames are read as luminance)."""
    shape = tuple(backend.input.shape)
    return 1 if len(shape) == 4 and shape[-1] == 1 else 3


def predict_frame(backend: Backend, image: np.ndarray, spec: Spec, size: tuple[int, int]) -> np.ndarray:
    """Class map of one RGB frame at the frame's native resolution (nearest resize back)."""
    labels = backend.predict_labels(preprocess(image, spec, size, channels=input_channels(backend))[None])[0]
    return resize_nearest(labels, image.shape[:2])


def evaluate(backend: Backend, dataset: FolderDataset, spec: Spec, size: tuple[int, int] | None = None,
             on_item: Callable[[], None] | None = None, keep: int = 0) -> AccuracyResult:
    """Run every sample through ``backend`` and score it against its label map.

    Args:
        backend: A loaded artifact.
        dataset: Images with label maps.
        spec: Classes, void index and normalisation (from the artifact's manifest).
        size: Model input ``(h, w)``; default the backend's input size, else the spec's.
        on_item: Called after every image (progress bars).
        keep: Keep the predictions of the first ``keep`` frames (by stem) for overlays.
    """
    if size is None:
        h, w = backend.input_size
        size = (h, w) if h > 0 and w > 0 else spec.input_size
    scorer = MiouScorer.for_spec(spec)
    kept: dict[str, np.ndarray] = {}
    for i in range(len(dataset)):
        image, mask = dataset.read(i)
        pred = predict_frame(backend, image, spec, size)
        scorer.add(mask, pred)
        if i < keep:
            kept[dataset.samples[i].stem] = pred
        if on_item is not None:
            on_item()
    return AccuracyResult(scorer.scores(), scorer.matrix.copy(), len(dataset), kept)
