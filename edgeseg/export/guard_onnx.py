"""ONNX side of the quantisation guard: qdq_loss_debug ranking, ``nodes_to_exclude``, int16 activations."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from edgeseg.errors import ExportError
from edgeseg.export.base import ArtifactInfo, ExportContext
from edgeseg.export.guard import Candidate, float_sets, worst_slice_sqnr

log = logging.getLogger(__name__)

RANKING_SHOWN = 10


def _sqnr(x: Sequence[np.ndarray], y: Sequence[np.ndarray]) -> float:
    """``compute_activation_error`` err_func: worst-channel SQNR over all frames."""
    return worst_slice_sqnr(np.concatenate([np.asarray(a) for a in x]), np.concatenate([np.asarray(a) for a in y]))


class OnnxCandidates:
    """Candidates for ``<stem>_int8.onnx``: the worst 1, 2, 4, ... activations kept float (their producer
    and consumers in ``nodes_to_exclude``), then int16 activations."""

    def __init__(self, graph: Any, ctx: ExportContext, final: Path, work: Path, *,
                 integer_only: bool = False) -> None:
        if ctx.calibration is None:
            raise ExportError("onnx-int8 guard needs calibration images (--calib-data)")
        self.graph, self.ctx, self.final, self.work = graph, ctx, final, work
        self._rewrites: list[str] = []
        self.integer_only = integer_only
        self.ranking: list[dict[str, Any]] = []
        self._pre: Path | None = None

    def _prepared(self) -> Path:
        """The fp32 graph the int8 exporter quantises (same code: layout rewrites, tf2onnx, pre-processing)."""
        if self._pre is None:
            from edgeseg.export.onnx import qdq_input

            self._pre, self._rewrites = qdq_input(self.graph, self.ctx, self.work)
        return self._pre

    def _quantize(self, out: Path, exclude: list[str], activation: str = "int8") -> None:
        from edgeseg.export.onnx import quantize_qdq

        quantize_qdq(self._prepared(), out, self.ctx, exclude, activation)

    def _rank(self) -> list[list[str]]:
        """qdq_loss_debug over the plain QDQ model; float-kept node sets of the activations, worst first."""
        import onnx
        from onnxruntime.quantization.qdq_loss_debug import (collect_activations, compute_activation_error,
                                                             create_activation_matching,
                                                             modify_model_output_intermediate_tensors)

        from edgeseg.export.onnx import calibration_reader

        pre = self._prepared()
        qdq, aug_q, aug_f = self.work / "rank_q.onnx", self.work / "rank_q_aug.onnx", self.work / "rank_f_aug.onnx"
        self._quantize(qdq, [])
        modify_model_output_intermediate_tensors(str(qdq), str(aug_q))
        modify_model_output_intermediate_tensors(str(pre), str(aug_f))
        graph = onnx.load(str(pre)).graph
        q_acts = collect_activations(str(aug_q), calibration_reader(self.ctx, pre))
        f_acts = collect_activations(str(aug_f), calibration_reader(self.ctx, pre))
        errors = compute_activation_error(create_activation_matching(q_acts, f_acts), err_func=_sqnr)
        producer = {o: (i, n.name) for i, n in enumerate(graph.node) for o in n.output}
        consumers: dict[str, list[str]] = {}
        for n in graph.node:
            for i in n.input:
                consumers.setdefault(i, []).append(n.name)
        stats = []
        for tensor, err in errors.items():
            if tensor not in producer:
                continue  # graph inputs
            v = float(err["qdq_err"])
            stats.append((np.inf if np.isnan(v) else v, producer[tensor][0], tensor, err.get("xmodel_err")))
        stats.sort(key=lambda s: (s[0], s[1]))  # ties: earliest tensor first (errors flow downstream)
        self.ranking = [{"tensor": t, "worst_channel_sqnr_db": None if np.isinf(v) else round(v, 3),
                         "vs_float_model_db": None if x is None or np.isnan(x) else round(float(x), 3)}
                        for v, _, t, x in stats[:RANKING_SHOWN]]
        return [sorted({producer[t][1], *consumers.get(t, [])}) for _, _, t, _ in stats]

    def __iter__(self) -> Iterator[Candidate]:
        if not self.integer_only:
            for k, names in float_sets(self._rank()):
                yield Candidate(f"int8, worst {k} tensor{'s' if k > 1 else ''} float ({len(names)} nodes)",
                                {"activations": "int8", "float_nodes": names},
                                lambda path, names=names: self._write(path, names, "int8"))
        yield Candidate("int16 activations", {"activations": "int16", "float_nodes": []},
                        lambda path: self._write(path, [], "int16"), integer_only=True)

    def _write(self, path: Path, exclude: list[str], activation: str) -> ArtifactInfo:
        from edgeseg.export.onnx import write_qdq

        tmp = self.work / f"cand_{activation}_{len(exclude)}.onnx"
        self._quantize(tmp, exclude, activation)
        precision = "int8" if activation == "int8" else "int16x8"
        extra: dict[str, Any] = {"float_nodes": exclude}
        if self._rewrites:
            extra["graph_rewrites"] = self._rewrites
        info = write_qdq(tmp, path, self.ctx, precision, extra)
        tmp.unlink(missing_ok=True)
        return info


def onnx_candidates(graph: Any, ctx: ExportContext, final: Path, *, integer_only: bool = False) -> OnnxCandidates:
    """The guard strategy of the ``onnx-int8`` target (see ``guard_strategy`` of its exporter);
    scratch files go to ``ctx.work_dir``. Candidates are built by the exporter's own functions
    (:func:`edgeseg.export.onnx.qdq_input`, ``quantize_qdq``, ``write_qdq``), layout rewrites included."""
    return OnnxCandidates(graph, ctx, final, Path(ctx.work_dir), integer_only=integer_only)
