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


class _Frames:
    """onnxruntime CalibrationDataReader over the calibration frames."""

    def __init__(self, ctx: ExportContext, input_name: str) -> None:
        self.ctx, self.input_name = ctx, input_name
        self.frames = ctx.calibration()  # type: ignore[misc]

    def get_next(self) -> dict[str, np.ndarray] | None:
        frame = next(self.frames, None)
        return None if frame is None else {self.input_name: frame}

    def rewind(self) -> None:
        self.frames = self.ctx.calibration()  # type: ignore[misc]

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:  # collect_activations iterates the reader
        while (item := self.get_next()) is not None:
            yield item


def _sqnr(x: Sequence[np.ndarray], y: Sequence[np.ndarray]) -> float:
    """``compute_activation_error`` err_func: worst-channel SQNR over all frames."""
    return worst_slice_sqnr(np.concatenate([np.asarray(a) for a in x]), np.concatenate([np.asarray(a) for a in y]))


class OnnxCandidates:
    """Candidates for ``<stem>_int8.onnx``: the worst 1, 2, 4, ... activations kept float (their producer
    and consumers in ``nodes_to_exclude``), then int16 activations."""

    def __init__(self, keras_model: Any, ctx: ExportContext, final: Path, work: Path, *,
                 integer_only: bool = False) -> None:
        if ctx.calibration is None:
            raise ExportError("onnx-int8 guard needs calibration images (--calib-data)")
        self.keras_model, self.ctx, self.final, self.work = keras_model, ctx, final, work
        self.integer_only = integer_only
        self.ranking: list[dict[str, Any]] = []
        self._pre: Path | None = None

    def _prepared(self) -> Path:
        """The fp32 graph after quant_pre_process, as the int8 exporter quantises it."""
        if self._pre is None:
            from onnxruntime.quantization.shape_inference import quant_pre_process

            from edgeseg.export.onnx import keras_to_onnx

            proto = keras_to_onnx(self.keras_model, self.ctx.input_size, self.ctx.head)
            fp32, pre = self.work / "guard_fp32.onnx", self.work / "guard_pre.onnx"
            fp32.write_bytes(proto.SerializeToString())
            try:
                quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
            except Exception as exc:  # an optimisation only, as in the exporter
                log.warning("onnx quant_pre_process failed (%s); quantising without it", exc)
                pre = fp32
            self._pre = pre
        return self._pre

    def _quantize(self, out: Path, exclude: list[str], activation: str = "int8") -> None:
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

        import onnx

        pre = self._prepared()
        method = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                  "percentile": CalibrationMethod.Percentile}[self.ctx.calib_method]
        act = {"int8": QuantType.QUInt8, "int16": QuantType.QInt16}[activation]  # uint8: what onnx.py uses (fused on x86)
        reader = _Frames(self.ctx, onnx.load(str(pre)).graph.input[0].name)
        extra = {"CalibTensorRangeSymmetric": False, **({"UseQDQContribOps": True} if activation == "int16" else {})}
        try:
            quantize_static(str(pre), str(out), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=act, weight_type=QuantType.QInt8, calibrate_method=method,
                            nodes_to_exclude=exclude, extra_options=extra)
        except Exception as exc:
            raise ExportError(f"ONNX int8 quantisation failed: {' '.join(str(exc).split())[:200]}") from None

    def _rank(self) -> list[list[str]]:
        """qdq_loss_debug over the plain QDQ model; float-kept node sets of the activations, worst first."""
        import onnx
        from onnxruntime.quantization.qdq_loss_debug import (collect_activations, compute_activation_error,
                                                             create_activation_matching,
                                                             modify_model_output_intermediate_tensors)

        pre = self._prepared()
        qdq, aug_q, aug_f = self.work / "rank_q.onnx", self.work / "rank_q_aug.onnx", self.work / "rank_f_aug.onnx"
        self._quantize(qdq, [])
        modify_model_output_intermediate_tensors(str(qdq), str(aug_q))
        modify_model_output_intermediate_tensors(str(pre), str(aug_f))
        graph = onnx.load(str(pre)).graph
        name = graph.input[0].name
        q_acts = collect_activations(str(aug_q), _Frames(self.ctx, name))
        f_acts = collect_activations(str(aug_f), _Frames(self.ctx, name))
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
        import onnx

        from edgeseg import __version__
        from edgeseg.export.onnx import _info, _metadata, _save

        tmp = self.work / f"cand_{activation}_{len(exclude)}.onnx"
        self._quantize(tmp, exclude, activation)
        out = onnx.load(str(tmp))
        out.producer_name, out.producer_version, out.doc_string = "edgeseg", __version__, ""
        precision = "int8" if activation == "int8" else "int16x8"
        _metadata(out, self.ctx, precision)
        _save(out, path)
        tmp.unlink(missing_ok=True)
        quant = {"weights": "int8 per-channel", "activations": activation, "io": "float", "format": "QDQ",
                 "float_nodes": exclude, "calibration_images": self.ctx.calib_count,
                 "calibration_method": self.ctx.calib_method}
        return _info(out, path, precision, quant)


def onnx_candidates(keras_model: Any, ctx: ExportContext, final: Path, *, integer_only: bool = False) -> OnnxCandidates:
    """The guard strategy of the ``onnx-int8`` target (see :data:`edgeseg.export.guard.STRATEGIES`);
    scratch files go to ``ctx.work_dir``."""
    return OnnxCandidates(keras_model, ctx, final, Path(ctx.work_dir), integer_only=integer_only)
