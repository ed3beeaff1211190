"""TFLite side of the quantisation guard: QuantizationDebugger ranking, float-kept layers, int16x8 fallback."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from edgeseg.errors import ExportError, one_line
from edgeseg.export.base import ArtifactInfo, ExportContext
from edgeseg.export.guard import Candidate, float_sets, worst_slice_sqnr

log = logging.getLogger(__name__)

#: How many ranked tensors the report lists.
RANKING_SHOWN = 10


def _sqnr_metric(f: np.ndarray, q: np.ndarray, scale: float, zero_point: int) -> float:
    """``layer_direct_compare_metrics`` entry: worst-channel SQNR of the dequantised tensor."""
    return worst_slice_sqnr(f, (q.astype(np.float32) - zero_point) * scale)


def _rmse_scale(f: np.ndarray, q: np.ndarray, scale: float, zero_point: int) -> float:
    """The TFLite debugging guide's ``rmse/scale`` (about 0.29 for pure rounding error)."""
    return float(np.sqrt(np.mean((f - (q.astype(np.float32) - zero_point) * scale) ** 2)) / scale)


def _tensor_of(verify_name: str) -> str:
    """Float-model tensor name of a NumericVerify output (``NumericVerify/<quantised name>:<index>``;
    the quantised copy carries one extra trailing digit, as QuantizationDebugger strips it too)."""
    name = verify_name.rsplit(":", 1)[0][len("NumericVerify/"):]
    return name[:-1] if re.match(r"\d", name[-1:]) else name


def _graph(model: bytes) -> tuple[dict[str, str], dict[str, list[str]], dict[str, int]]:
    """``tensor -> producing op's output name``, ``tensor -> consuming ops' output names`` and
    ``tensor -> index of its producer`` (execution order)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    name = {d["index"]: d["name"] for d in it.get_tensor_details()}
    producer: dict[str, str] = {}
    consumers: dict[str, list[str]] = {}
    order: dict[str, int] = {}
    for op in it._get_ops_details():  # pylint: disable=protected-access
        outs = [name[i] for i in op["outputs"] if i in name]
        if not outs:
            continue
        for o in outs:
            producer[o], order[o] = outs[0], int(op["index"])
        for i in op["inputs"]:
            if i in name:
                consumers.setdefault(name[i], []).append(outs[0])
    return producer, consumers, order


class TFLiteCandidates:
    """Candidates for ``<stem>_int8.tflite``: the worst 1, 2, 4, ... tensors kept in float, then int16x8.

    Iterating runs the debugger (once, lazily). ``ranking`` lists the worst tensors after that.
    Keeping a tensor in float denylists its producer and all its consumers, so no op reads it
    through the crushing int8 scale.
    """

    def __init__(self, graph: Any, ctx: ExportContext, final: Path, *, integer_only: bool = False) -> None:
        if ctx.calibration is None:
            raise ExportError("int8 guard needs calibration images (--calib-data)")
        self.graph, self.ctx, self.final, self.integer_only = graph, ctx, final, integer_only
        self.ranking: list[dict[str, Any]] = []
        self._calibrated: bytes | None = None

    def _representative(self) -> Iterator[list[np.ndarray]]:
        for frame in self.ctx.calibration():  # type: ignore[misc]
            yield [frame]

    def _rank(self) -> list[list[str]]:
        """Run QuantizationDebugger; return the float-kept op sets of the tensors, worst first."""
        from edgeseg._keras import tf
        from edgeseg.export.tflite import converter_for

        conv = converter_for(self.graph)  # the exporter's frozen concrete function, any model source
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = self._representative
        opts = tf.lite.experimental.QuantizationDebugOptions(
            layer_direct_compare_metrics={"worst_channel_sqnr_db": _sqnr_metric, "rmse/scale": _rmse_scale})
        try:
            dbg = tf.lite.experimental.QuantizationDebugger(converter=conv, debug_dataset=self._representative,
                                                            debug_options=opts)
            dbg.run()
        except Exception as exc:  # the converter raises many types
            raise ExportError(f"TFLite quantisation debugger failed: {one_line(exc, 200)}") from None
        self._calibrated = dbg.calibrated_model
        producer, consumers, order = _graph(self._calibrated)
        stats = []
        for verify_name, metrics in dbg.layer_statistics.items():
            tensor = _tensor_of(verify_name)
            if tensor not in producer:
                log.debug("debugger tensor %s not in the float graph", tensor)
                continue
            sqnr = float(metrics["worst_channel_sqnr_db"])
            stats.append((np.inf if np.isnan(sqnr) else sqnr, tensor, metrics))
        # Ties (often several tensors at 0 dB: a crushed tensor also saturates what follows) go to the
        # earliest tensor: errors flow downstream, the first one is the cause.
        stats.sort(key=lambda s: (s[0], order[s[1]]))
        self.ranking = [{"tensor": t, "worst_channel_sqnr_db": None if np.isinf(s) else round(s, 3),
                         "rmse/scale": round(float(m["rmse/scale"]), 4)} for s, t, m in stats[:RANKING_SHOWN]]
        return [sorted({producer[t], *consumers.get(t, [])}) for _, t, _ in stats]

    def __iter__(self) -> Iterator[Candidate]:
        if not self.integer_only:
            for k, names in float_sets(self._rank()):
                yield Candidate(f"int8, worst {k} tensor{'s' if k > 1 else ''} float ({len(names)} ops)",
                                {"activations": "int8", "float_nodes": names},
                                lambda path, names=names: self._denylisted(path, names))
        yield Candidate("int16x8 activations", {"activations": "int16", "float_nodes": []}, self._int16x8,
                        integer_only=True)

    def _denylisted(self, path: Path, nodes: list[str]) -> ArtifactInfo:
        """Quantise the calibrated model with ``nodes`` (op output tensor names) left in float."""
        from edgeseg._keras import tf

        from edgeseg._tf_private import mlir_quantize

        # mlir_quantize is what QuantizationDebugger.get_nondebug_quantized_model calls; called directly
        # so that the --io input/output types apply.
        io = {"float": tf.float32, "uint8": tf.uint8, "int8": tf.int8}[self.ctx.io]
        out_io = tf.float32 if self.ctx.head == "argmax" else io
        model = mlir_quantize(self._calibrated, fully_quantize=False, input_data_type=io,
                              output_data_type=out_io, denylisted_nodes=nodes)
        quant = {"weights": "int8", "activations": "int8", "io": self.ctx.io, "float_nodes": nodes,
                 "calibration_images": self.ctx.calib_count, "calibration_method": "minmax (TFLite converter)"}
        return self._write(model, path, "int8", quant)

    def _int16x8(self, path: Path) -> ArtifactInfo:
        """The int16x8 exporter (float I/O, int16 activations, int8 weights)."""
        from edgeseg.export.registry import get_exporter

        return get_exporter("int16x8").export(self.graph, path, self.ctx)

    def _write(self, model: bytes, path: Path, precision: str, quant: dict[str, Any]) -> ArtifactInfo:
        from edgeseg.export.tflite import write_tflite

        return write_tflite(model, path, self.ctx, precision, quant)


def tflite_candidates(graph: Any, ctx: ExportContext, final: Path, *,
                      integer_only: bool = False) -> TFLiteCandidates:
    """The guard strategy of the ``int8`` target (see ``guard_strategy`` of its exporter)."""
    return TFLiteCandidates(graph, ctx, final, integer_only=integer_only)
