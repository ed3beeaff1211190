"""Accuracy-budgeted quantisation: re-export an int8 artifact step by step until its mIoU drop fits a budget."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from edgeseg.core.fileio import sha256_file, write_bytes_atomic
from edgeseg.core.manifest import Manifest, sidecar_path
from edgeseg.core.metrics import MiouScorer
from edgeseg.errors import UsageError
from edgeseg.export.base import ArtifactInfo

log = logging.getLogger(__name__)

Latency = Callable[[Path], "float | None"]


@dataclass
class Candidate:
    """One quantisation configuration to try.

    Attributes:
        label: Short human name (``int8 + 3 float ops``, ``int16x8``).
        config: JSON-ready settings (``activations``, ``float_nodes``, ...), recorded in the report.
        make: Writes the artifact (with metadata) to the given path.
        integer_only: Whether the artifact runs without float fallback.
    """

    label: str
    config: dict[str, Any]
    make: Callable[[Path], ArtifactInfo]
    integer_only: bool = False


@dataclass
class GuardReport:
    """Every step tried for one artifact, and which one was kept."""

    target: str
    max_drop: float
    integer_only: bool
    keras_miou: float
    images: int
    steps: list[dict[str, Any]] = field(default_factory=list)
    ranking: list[dict[str, Any]] = field(default_factory=list)
    chosen: int = 0
    met: bool = False

    def best_drop(self) -> float:
        """The drop of the chosen step (mIoU points)."""
        return float(self.steps[self.chosen]["drop"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the ``guard`` section of the sidecar manifest and of ``--json``)."""
        return {"target": self.target, "max_miou_drop": self.max_drop, "integer_only": self.integer_only,
                "keras_miou": round(100 * self.keras_miou, 4), "images": self.images, "met": self.met,
                "chosen": self.chosen, "steps": self.steps, "ranking": self.ranking}


class Scorer:
    """mIoU of artifacts on fixed labelled frames, with the Keras reference computed once
    (:class:`~edgeseg.core.metrics.MiouScorer`, as verification and bench score)."""

    def __init__(self, reference: Any, pairs: Iterator[tuple[np.ndarray, np.ndarray | None]], spec: Any,
                 threads: int | None = None, keras_input: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        self.spec, self.threads = spec, threads
        self.frames: list[tuple[np.ndarray, np.ndarray]] = []
        keras = MiouScorer.for_spec(spec)
        for x, labels in pairs:
            if labels is None:
                raise UsageError("--max-miou-drop needs validation images with label masks (--val-data)")
            ref = np.asarray(reference(keras_input(x) if keras_input is not None else x))
            keras.add(labels, ref)
            self.frames.append((x, labels))
        self.keras_miou = keras.miou()

    def miou(self, path: Path) -> float:
        """mIoU (0..1) of the artifact at ``path`` against the labels."""
        from edgeseg import runtime

        scorer = MiouScorer.for_spec(self.spec)
        with runtime.load(path, threads=self.threads) as be:
            for x, labels in self.frames:
                scorer.add(labels, np.asarray(be.run(x)))
        return scorer.miou()


def worst_slice_sqnr(reference: np.ndarray, quantized: np.ndarray) -> float:
    """Signal-to-quantisation-noise ratio (dB) of the worst channel (slices along axis 1 and the last axis).

    A per-tensor int8 scale set by a few huge channels crushes the small ones: the tensor's overall
    SQNR stays fine, but those channels' SQNR falls towards 0 dB. Taking the worst slice along both
    candidate channel axes works for NHWC (TFLite) and NCHW (ONNX) tensors alike. Slices without
    signal are ignored; ``nan`` when no slice has any.
    """
    f = np.asarray(reference, dtype=np.float64)
    d = f - np.asarray(quantized, dtype=np.float64)
    if f.ndim < 2:
        f, d = f.reshape(1, -1), d.reshape(1, -1)
    worst = float("nan")
    for ax in sorted({1, f.ndim - 1}):
        axes = tuple(i for i in range(f.ndim) if i != ax)
        signal, noise = (f ** 2).sum(axis=axes), (d ** 2).sum(axis=axes)
        ok = signal > 0
        if ok.any():
            v = float(np.min(10 * np.log10(signal[ok] / np.maximum(noise[ok], 1e-30))))
            worst = v if np.isnan(worst) else min(worst, v)
    return worst


def doubling(count: int) -> list[int]:
    """How many of the worst tensors to keep in float at each step: 1, 2, 4, ... and finally all."""
    steps, k = [], 1
    while count and k < count:
        steps.append(k)
        k *= 2
    return steps + [count] if count else []


def float_sets(units: list[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """``(k, nodes)`` per step: the nodes of the ``k`` worst-ranked units kept in float, ``k``
    following :func:`doubling`; steps that would add no new node are skipped."""
    previous: set[str] = set()
    for k in doubling(len(units)):
        nodes = set().union(*units[:k])
        if nodes != previous:
            previous = nodes
            yield k, sorted(nodes)


def check_guard(targets: list[str], has_labels: bool, max_drop: float) -> None:
    """Refuse a guard that cannot run, before anything is converted."""
    if max_drop < 0:
        raise UsageError(f"--max-miou-drop must be >= 0 (mIoU points), got {max_drop}")
    from edgeseg.export.registry import get_exporter, guarded_targets

    guarded = guarded_targets()  # the targets whose exporter names a guard_strategy
    if not any(t in guarded for t in targets):
        flags = [get_exporter(t).flag for t in guarded]
        which = " and ".join(flags) if len(flags) < 3 else ", ".join(flags[:-1]) + " and " + flags[-1]
        raise UsageError(f"--max-miou-drop applies to {which}; {'neither' if len(flags) == 2 else 'none'} was "
                         "asked for")
    if not has_labels:
        raise UsageError("--max-miou-drop needs validation images with label masks (--val-data DATASET)")


def guard_artifact(result: dict[str, Any], candidates: Iterable[Candidate], scorer: Scorer, max_drop: float, *,
                   integer_only: bool, latency: Latency | None = None,
                   on_step: Callable[[str], None] | None = None) -> tuple[GuardReport, ArtifactInfo | None]:
    """Score the plain artifact, then each candidate until one fits ``max_drop``; keep the chosen one.

    Without a fitting step the one with the smallest drop is kept. The chosen candidate (if not the
    plain artifact) replaces ``result["path"]`` atomically; the others are deleted as they lose.
    Returns the report and the chosen candidate's info (``None``: the plain artifact was kept).
    """
    final = Path(result["path"])
    report = GuardReport(result["target"], max_drop, integer_only, scorer.keras_miou, len(scorer.frames))
    plain = {"activations": "int8", "float_nodes": []}
    _record(report, "int8 (plain)", plain, final, result["size_bytes"], scorer, latency, on_step)
    chosen_info: ArtifactInfo | None = None
    with tempfile.TemporaryDirectory(prefix="edgeseg-guard-") as work:
        keep: Path | None = None
        if not report.met:
            for i, cand in enumerate(candidates, start=1):
                if integer_only and not cand.integer_only:
                    continue
                path = Path(work) / str(i) / final.name  # the final name: metadata carries the stem
                path.parent.mkdir()
                info = cand.make(path)
                _record(report, cand.label, cand.config, path, info.size_bytes, scorer, latency, on_step)
                if _better(report):
                    if keep is not None:
                        keep.unlink(missing_ok=True)
                    keep, chosen_info = path, info
                else:
                    path.unlink(missing_ok=True)
                if report.met:
                    break
        report.ranking = list(getattr(candidates, "ranking", []))
        if keep is not None:
            write_bytes_atomic(final, keep.read_bytes())
            chosen_info.path = final  # type: ignore[union-attr]
    return report, chosen_info


def _record(report: GuardReport, label: str, config: dict[str, Any], path: Path, size: int, scorer: Scorer,
            latency: Latency | None, on_step: Callable[[str], None] | None) -> None:
    miou = scorer.miou(path)
    drop = 100.0 * (scorer.keras_miou - miou)
    p50 = latency(path) if latency is not None else None
    step = {"step": len(report.steps), "config": label, **config, "float_node_count": len(config.get("float_nodes", [])),
            "miou": round(100 * miou, 4), "drop": round(drop, 4), "size_bytes": int(size),
            "latency_p50_ms": None if p50 is None else round(p50, 4), "within_budget": bool(drop <= report.max_drop)}
    report.steps.append(step)
    if on_step:
        on_step(f"guard {report.target} step {step['step']}: {label}: mIoU {step['miou']:.2f} "
                f"(drop {drop:.2f}, budget {report.max_drop:g})")
    if step["within_budget"] and not report.met:
        report.met, report.chosen = True, step["step"]
    elif not report.met and drop < report.steps[report.chosen]["drop"]:
        report.chosen = step["step"]


def _better(report: GuardReport) -> bool:
    """Whether the step just recorded became the chosen one."""
    return report.chosen == len(report.steps) - 1


def update_sidecar(result: dict[str, Any], report: GuardReport, info: ArtifactInfo | None,
                   parity: dict[str, Any] | None) -> None:
    """Record the guard in the artifact's sidecar manifest (and in ``result``); refresh the artifact
    fields when a candidate replaced the plain artifact."""
    path = Path(result["path"])
    side = sidecar_path(path)
    m = Manifest.load(side)
    m.sections.pop("written_by", None)
    if info is not None:
        artifact = dict(m.get("artifact") or {})
        artifact.update(precision=info.precision, input=info.input, output=info.output, ops=info.ops,
                        size_bytes=info.size_bytes, sha256=sha256_file(path))
        m["artifact"] = artifact
        quant = {**(m.get("quantization") or {}), **info.quantization}
        m["quantization"] = quant
        result.update(precision=info.precision, input=info.input, output=info.output, ops=info.ops,
                      size_bytes=info.size_bytes, quantization=quant)
    if parity is not None:
        m["parity"] = parity
        result["parity"] = parity
    m["guard"] = report.to_dict()
    result["guard"] = report.to_dict()
    m.save(side)


def guard_results(plan: Any, results: list[dict[str, Any]], max_drop: float, *, integer_only: bool = False,
                  latency: Latency | None = None, threads: int | None = None,
                  on_step: Callable[[str], None] | None = None) -> list[GuardReport]:
    """Run the guard on every result of :func:`edgeseg.export.convert.run_plan` whose exporter has a
    ``guard_strategy`` (``int8``, ``onnx-int8``): a ``"module:function"`` building the candidates, imported lazily.

    Args:
        plan: The :class:`~edgeseg.export.convert.ConversionPlan` the results came from (its
            verification frames must have masks).
        results: Result dicts; guarded ones are updated in place (``guard`` key added).
        max_drop: Allowed mIoU drop against Keras, in mIoU points (percent).
        integer_only: Forbid float fallback (only int16x8 activations may be tried).
        latency: ``path -> p50 ms`` (the CLI passes edgeseg.bench's measurement); ``None``: not timed.
        threads: Engine threads for scoring.
        on_step: Progress callback.
    """
    import importlib

    from edgeseg.export.registry import get_exporter
    from edgeseg.export.verify import verify_artifacts

    todo = [r for r in results if get_exporter(r["target"]).guard_strategy]
    if not todo:
        return []
    check_guard([r["target"] for r in todo], plan.verification is not None and plan.verification.has_masks,
                max_drop)
    scorer = Scorer(plan.reference, plan.verification.pairs(), plan.ctx.spec, threads, keras_input=plan.keras_input)
    reports = []
    for r in todo:
        module, _, fn = get_exporter(r["target"]).guard_strategy.partition(":")
        make = getattr(importlib.import_module(module), fn)
        with tempfile.TemporaryDirectory(prefix="edgeseg-guard-work-") as work:
            ctx = replace(plan.ctx, work_dir=Path(work))
            candidates = make(plan.graph, ctx, Path(r["path"]), integer_only=integer_only)
            report, info = guard_artifact(r, candidates, scorer, max_drop, integer_only=integer_only,
                                          latency=latency, on_step=on_step)
        parity = None
        if info is not None:
            (parity,) = verify_artifacts(plan.reference, [(Path(r["path"]), get_exporter(r["target"]))],
                                         plan.verification.pairs(), plan.ctx.spec, with_labels=True,
                                         threads=threads, source=plan.verification.source,
                                         keras_input=plan.keras_input)
        update_sidecar(r, report, info, parity)
        reports.append(report)
    return reports
