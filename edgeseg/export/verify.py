"""Parity of exported artifacts against the Keras model on real frames (runs them with edgeseg.runtime)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from edgeseg.core.metrics import MiouScorer, class_map
from edgeseg.core.spec import Spec
from edgeseg.export.base import Exporter

log = logging.getLogger(__name__)

#: Frames per Keras reference call (one ``tf.function`` trace, batched matmuls).
REF_BATCH = 4


class _Tally:
    """Running parity numbers of one artifact."""

    def __init__(self, spec: Spec, with_labels: bool) -> None:
        self.max_abs = 0.0
        self.sum_abs = 0.0
        self.values = 0
        self.agree = 0
        self.pixels = 0
        self.scorer = MiouScorer.for_spec(spec) if with_labels else None

    def add(self, ref: np.ndarray, out: np.ndarray, ref_labels: np.ndarray, labels: np.ndarray | None) -> None:
        if out.ndim == 4 and ref.ndim == 4:
            diff = np.abs(out.astype(np.float32) - ref)
            self.max_abs = max(self.max_abs, float(diff.max()))
            self.sum_abs += float(diff.sum())
            self.values += diff.size
        pred = class_map(out)
        self.agree += int((pred == ref_labels).sum())
        self.pixels += ref_labels.size
        if self.scorer is not None and labels is not None:
            self.scorer.add(labels, pred)


class _Reference:
    """The model as one traced ``tf.function`` called on ``batch`` frames at a time."""

    def __init__(self, graph: Any) -> None:
        from edgeseg.export.graph import ExportGraph

        if isinstance(graph, ExportGraph):
            self.batch, self._fn = graph.reference_batch, graph.function
            return
        from edgeseg._keras import tf

        fixed = graph.inputs[0].shape[0]
        self.batch = 1 if fixed == 1 else REF_BATCH
        self._fn = tf.function(lambda x: graph(x, training=False), reduce_retracing=True)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._fn(x))


def keras_reference(graph: Any) -> _Reference:
    """Batched, traced inference of the source model (the parity reference): an
    :class:`~edgeseg.export.graph.ExportGraph` or a prepared tf_keras model."""
    return _Reference(graph)


def _batches(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def verify_artifacts(keras_model: Any, artifacts: list[tuple[Path, Exporter]], frames: Iterable[tuple[np.ndarray,
                     np.ndarray | None]], spec: Spec, *, with_labels: bool, threads: int | None = None,
                     source: str = "", keras_input: Callable[[np.ndarray], np.ndarray] | None = None
                     ) -> list[dict[str, Any]]:
    """Run Keras and every artifact on the same frames; one parity dict per artifact.

    Args:
        keras_model: The reference: the :class:`~edgeseg.export.graph.ExportGraph` the artifacts came from
            (without pixels-mode normalisation), or a prepared tf_keras model; with a free batch dimension it
            runs :data:`REF_BATCH` frames a call.
        artifacts: ``(path, exporter)`` pairs; the exporter gives the expectation (``min_agreement``).
        frames: ``(preprocessed (1,H,W,3) frame, label map or None)`` pairs.
        spec: Classes and void index for mIoU.
        with_labels: Whether to score mIoU of Keras and each artifact against the label maps.
        threads: Engine threads (default: :func:`edgeseg.runtime.default_threads`).
        source: Where the frames came from (reported).
        keras_input: Maps a batch of artifact frames to the Keras model's input, when the two are
            preprocessed differently (pixels mode: artifacts take raw pixels, Keras normalised frames).

    Returns:
        Dicts with ``images``, ``max_abs_diff``/``mean_abs_diff`` (float outputs), ``agreement_pct``,
        ``miou_keras_pct``/``miou_artifact_pct`` (percent) and ``miou_delta_pts`` (points) (with labels), ``expected_agreement_pct``, ``passed``.
    """
    from edgeseg import runtime

    reference = keras_reference(keras_model)
    backends = [runtime.load(path, threads=threads) for path, _ in artifacts]
    tallies = [_Tally(spec, with_labels) for _ in artifacts]
    keras_scorer = MiouScorer.for_spec(spec) if with_labels else None
    count = 0
    try:
        for batch in _batches(frames, reference.batch):
            xs = np.concatenate([x for x, _ in batch])
            refs = reference(keras_input(xs) if keras_input is not None else xs)
            for (x, labels), ref in zip(batch, refs):
                ref = ref[None].astype(np.float32) if ref.ndim == 3 else ref[None]
                ref_labels = class_map(ref)
                if keras_scorer is not None and labels is not None:
                    keras_scorer.add(labels, ref_labels)
                for be, tally in zip(backends, tallies):
                    tally.add(ref, np.asarray(be.run(x)), ref_labels, labels)
                count += 1
    finally:
        for be in backends:
            be.close()
    miou_keras = keras_scorer.miou() if keras_scorer is not None and keras_scorer.pixels else None
    results = []
    for (path, exporter), tally in zip(artifacts, tallies):
        agreement = 100.0 * tally.agree / tally.pixels if tally.pixels else float("nan")
        r: dict[str, Any] = {"images": count, "source": source, "agreement_pct": round(agreement, 4)}
        if tally.values:
            r["max_abs_diff"] = tally.max_abs
            r["mean_abs_diff"] = tally.sum_abs / tally.values
        if miou_keras is not None and tally.scorer is not None:
            miou = tally.scorer.miou()
            r.update(miou_keras_pct=round(100 * miou_keras, 4), miou_artifact_pct=round(100 * miou, 4),
                     miou_delta_pts=round(100 * (miou - miou_keras), 4))
        r["expected_agreement_pct"] = exporter.min_agreement
        r["passed"] = None if exporter.min_agreement is None else bool(agreement >= exporter.min_agreement)
        results.append(r)
        log.info("parity %s: %s", path.name, r)
    return results


def smoke_run(path: Path, channels: int = 3) -> None:
    """Load the artifact with its default runtime and run one frame; :class:`ExportError` (one line) and the
    file removed if the runtime rejects it (e.g. ONNX Runtime failing on a kernel the quantiser chose)."""
    from edgeseg import runtime
    from edgeseg.errors import EdgesegError, ExportError, one_line

    try:
        with runtime.load(path, threads=1) as be:
            shape = [d if d and d > 0 else 1 for d in be.input.shape]
            be.run(np.zeros(shape[:-1] + [channels], np.float32))
    except EdgesegError as exc:
        path.unlink(missing_ok=True)
        raise ExportError(f"the written artifact does not run: {one_line(exc, 200)}") from None


def skipped(reason: str) -> dict[str, Any]:
    """The parity entry when no verification frames exist."""
    return {"images": 0, "skipped": reason, "passed": None}
