"""``bench()``: measure one artifact on one runtime from Python, as ``edgeseg bench`` does (docs/api.md)."""

from __future__ import annotations

import os
from typing import Any

from edgeseg.bench.runner import BenchJob, DatasetRef, run_isolated, run_job


def bench(artifact: str | os.PathLike[str], *, runtime: str | None = None, threads: int | None = None,
          data: DatasetRef | str | os.PathLike[str] | None = None, split: str | None = None,
          image: str | os.PathLike[str] | None = None, runs: int = 50, min_time: float = 1.0,
          warmup_runs: int = 1, warmup_time: float = 0.5, isolate: bool = False,
          **options: Any) -> dict[str, Any]:
    """Latency, memory, delegation and (with ``data``) accuracy of one artifact.

    Args:
        artifact: A ``.tflite``, ``.onnx`` or Keras ``.h5`` file.
        runtime: ``litert``, ``litert-compiled``, ``onnxruntime`` or ``keras`` (default: by format).
        threads: CPU threads (default :func:`edgeseg.runtime.default_threads`, the usable cores); the
            result's ``threads`` is the count used.
        data: A dataset folder (``images/`` + ``masks/``, or the SegNet layout with ``split``), or a
            :class:`DatasetRef`; adds ``miou_pct``, ``per_class_iou_pct``, ... (percent).
        split: Split of a SegNet-layout ``data`` folder (e.g. ``"val"``).
        image: The fixed input frame for latency (default: the first dataset frame, else a sample frame).
        runs, min_time, warmup_runs, warmup_time: Timed runs until both ``runs`` and ``min_time`` seconds,
            after warm-up until both ``warmup_runs`` and ``warmup_time``.
        isolate: Measure in a fresh Python process (peak RSS of this artifact alone); always so for
            ``accelerator="gpu"`` when this process has imported TensorFlow.
        **options: Backend options (``xnnpack``, ``accelerator``, ``providers``, ``graph_opt``, ...).

    Returns:
        The report ``edgeseg bench --json`` prints for one measurement (docs/bench.md, "JSON").
    """
    ref = DatasetRef.of(data)
    if ref is not None and split is not None:
        ref = DatasetRef(ref.folder, split, ref.images, ref.masks, ref.sequences)
    job = BenchJob(artifact=os.fspath(artifact), backend=runtime, threads=threads, options=options,
                   latency={"min_runs": runs, "min_seconds": min_time, "warmup_runs": warmup_runs,
                            "warmup_seconds": warmup_time},
                   image=os.fspath(image) if image is not None else None, dataset=ref, show_progress=False)
    from edgeseg.bench.device import needs_own_process

    # LiteRT's GPU accelerator segfaults beside TensorFlow: from a process holding it, the GPU runs in a fresh one
    return run_isolated(job) if isolate or needs_own_process([job]) else run_job(job)
