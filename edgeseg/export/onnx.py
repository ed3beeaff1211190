"""ONNX exporters (tf2onnx, opset 17): fp32, fp16 (float I/O kept) and static QDQ int8 (onnxruntime)."""

from __future__ import annotations

import json
import re
import logging
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from edgeseg import __version__
from edgeseg.core.fileio import atomic_path
from edgeseg.core.manifest import preprocessing_of
from edgeseg.errors import ExportError, one_line
from edgeseg.export.base import ArtifactInfo, ExportContext, Exporter, ParityLimits

log = logging.getLogger(__name__)

OPSET = 17
_ELEM = {1: "float32", 10: "float16", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 5: "int16"}


def keras_to_onnx(graph: Any, input_size: tuple[int, int] | None = None, head: str | None = None) -> Any:
    """A deterministic fp32 ``ModelProto`` of an export graph (or prepared tf_keras model); the output is named
    after the head. tf2onnx converts the graph's ``tf.function`` (``from_function``), whatever Keras wrote it."""
    import tf2onnx

    from edgeseg.export.graph import as_graph

    graph = as_graph(graph, head or "logits")
    head = head or graph.head
    tf2onnx.utils.INTERNAL_NAME = 1  # tf2onnx numbers inserted nodes from a global counter
    try:
        proto, _ = tf2onnx.convert.from_function(graph.function, input_signature=(graph.input_spec(1),),
                                                 opset=OPSET)
    except Exception as exc:  # tf2onnx raises assorted types for unsupported ops
        raise ExportError(f"ONNX conversion failed: {one_line(exc, 200)}") from None
    _rename_output(proto, _OUTPUT_NAMES.get(head, "output"))
    _stable_names(proto)
    proto.producer_name, proto.producer_version = "edgeseg", __version__  # stable across runs
    proto.doc_string = ""
    proto.graph.doc_string = ""
    return proto


_OUTPUT_NAMES = {"logits": "logits", "softmax": "probabilities", "argmax": "class_map"}


def _rename_output(proto: Any, new: str) -> None:
    """Give the graph output a fixed name (Keras numbers op layers per process: ``tf.cast_3``)."""
    old = proto.graph.output[0].name
    if old == new:
        return
    for node in proto.graph.node:
        node.output[:] = [new if o == old else o for o in node.output]
        node.input[:] = [new if i == old else i for i in node.input]
    proto.graph.output[0].name = new


_COUNTER = re.compile(r"__\d+")


def _stable_names(proto: Any) -> None:
    """Renumber tf2onnx's ``name__<global counter>`` suffixes by first appearance (byte-stable output)."""
    numbers: dict[str, str] = {}

    def fix(name: str) -> str:
        if not _COUNTER.search(name):
            return name
        base = _COUNTER.sub("", name)
        return numbers.setdefault(name, f"{base}__{len(numbers)}")

    g = proto.graph
    for node in g.node:
        node.name = fix(node.name)
        node.input[:] = [fix(i) for i in node.input]
        node.output[:] = [fix(o) for o in node.output]
    for coll in (g.initializer, g.value_info, g.input, g.output):
        for item in coll:
            item.name = fix(item.name)


def _metadata(proto: Any, ctx: ExportContext, precision: str) -> None:
    props = {
        "edgeseg.version": __version__,
        "edgeseg.spec": ctx.spec.to_json(),
        "edgeseg.preprocessing": json.dumps(preprocessing_of(ctx.spec), sort_keys=True),
        "edgeseg.labels": "\n".join(ctx.spec.class_names),
        "edgeseg.head": ctx.head,
        "edgeseg.precision": precision,
    }
    del proto.metadata_props[:]
    for k, v in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v


def _tensor(vi: Any) -> dict[str, Any]:
    t = vi.type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
    return {"name": vi.name, "shape": dims, "dtype": _ELEM.get(t.elem_type, str(t.elem_type)),
            "scale": None, "zero_point": None}


def _info(proto: Any, path: Path, precision: str, quant: dict[str, Any]) -> ArtifactInfo:
    ops = list(dict.fromkeys(n.op_type for n in proto.graph.node))
    return ArtifactInfo(path=path, format="onnx", precision=precision, size_bytes=path.stat().st_size,
                        input=_tensor(proto.graph.input[0]), output=_tensor(proto.graph.output[0]), ops=ops,
                        quantization=quant)


def _save(proto: Any, out_path: Path) -> None:
    with atomic_path(out_path) as tmp:
        tmp.write_bytes(proto.SerializeToString(deterministic=True))


class OnnxFloatExporter(Exporter):
    """fp32, or fp16 weights/activations with float32 inputs and outputs kept."""

    format = "onnx"

    def export(self, graph: Any, out_path: Path, ctx: ExportContext) -> ArtifactInfo:
        """See :class:`Exporter`."""
        proto = keras_to_onnx(graph, ctx.input_size, ctx.head)
        quant: dict[str, Any] = {"weights": "float32", "activations": "float32", "io": "float"}
        if self.precision == "fp16":
            from onnxruntime.transformers.float16 import convert_float_to_float16

            proto = convert_float_to_float16(proto, keep_io_types=True, disable_shape_infer=False)
            quant.update(weights="float16", activations="float16")
        _metadata(proto, ctx, self.precision)
        _save(proto, out_path)
        return _info(proto, out_path, self.precision, quant)


class OnnxInt8Exporter(Exporter):
    """Static QDQ int8: quant_pre_process, then quantize_static with per-channel int8 weights and
    asymmetric uint8 activations (U8S8).

    Why uint8 activations: ONNX Runtime's x86 CPU provider fuses ``DQ -> Conv/Add -> Q`` into
    ``QLinearConv``/``QLinearAdd`` only for uint8 activations; with int8 ones its S8->U8 rewrite
    converts only Q/DQ pairs with one consumer, so every branch point (ENet's residual adds) kept
    float ``Conv``/``Add`` between DequantizeLinear/QuantizeLinear plus NCHW<->NHWC transposes
    (36 of 89 convs and 25 of 27 adds of ENet left in float). Trained ENet 360x480, 2 threads:
    S8S8 44.5 ms, U8S8 23.3 ms, fp32 ~21 ms (docs/bench.md "Figures"). U8S8 is also what ORT
    recommends for x86; the 256 levels are the same, so is the accuracy.

    Before export the model goes through :func:`edgeseg.models.deploy.for_onnxruntime_int8` (exact
    rewrites, listed in the artifact's ``quantization.graph_rewrites``): ENet's channel concats are
    rebuilt as adds because ORT's NHWC transformer stops at a Concat (54 transposes and two
    channels-first max-pools were left in the int8 ENet), and its head's 1x1 classifier is folded
    into the transposed conv before it. Shipped ENet: int8/fp32 0.84x before, 1.25x after."""

    format = "onnx"
    name, precision, suffix, summary = "onnx-int8", "int8", "_int8.onnx", "static QDQ"
    needs_calibration = True
    quantized = True
    guard_strategy = "edgeseg.export.guard_onnx:onnx_candidates"
    test_parity = ParityLimits(96.5, 0.05, 0.008)  # measured 97.58 / 0.028 / 0.0045

    def export(self, graph: Any, out_path: Path, ctx: ExportContext) -> ArtifactInfo:
        """See :class:`Exporter`."""
        if ctx.calibration is None:
            raise ExportError("onnx-int8 needs calibration images (--calib-data)")
        pre, rewrites = qdq_input(graph, ctx, Path(ctx.work_dir))
        q = Path(ctx.work_dir) / "onnx_int8_q.onnx"
        kept = _quantize_runnable(pre, q, ctx)
        extra: dict[str, Any] = {"graph_rewrites": rewrites} if rewrites else {}
        if kept:
            extra["float_op_types"] = kept
        return write_qdq(q, out_path, ctx, "int8", extra)


def _quantize_runnable(pre: Path, q: Path, ctx: ExportContext, tries: int = 3) -> list[str]:
    """Quantise; if ONNX Runtime cannot run the result (e.g. SegFormer: the ``QLinearGlobalAveragePool`` made of
    LayerNorm's mean fails with "parameter out of computation range"), keep the failing node's op type in float
    and quantise again. Returns the op types kept in float (recorded as ``quantization.float_op_types``)."""
    import onnx

    kept: list[str] = []
    for _ in range(tries):
        exclude = [n.name for n in onnx.load(str(pre)).graph.node if n.op_type in kept] if kept else None
        quantize_qdq(pre, q, ctx, exclude)
        failed = _failing_node(q)
        if failed is None:
            return kept
        op = next((n.op_type for n in onnx.load(str(pre)).graph.node if n.name == failed), None)
        if op is None or op in kept:
            break  # nothing more to try: the exporter's run-once check reports it
        log.info("ONNX Runtime cannot run the int8 %s %s; keeping %s nodes in float", op, failed, op)
        kept.append(op)
    return kept


def _failing_node(model: Path) -> str | None:
    """``None`` if ONNX Runtime runs ``model`` on a zero frame, else the name of the node it failed on ('' if
    the error names none)."""
    import onnxruntime as ort

    try:
        sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0]
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
        sess.run(None, {inp.name: np.zeros(shape, np.float32)})
    except Exception as exc:  # noqa: BLE001 - ORT raises its own types (Fail, InvalidGraph, RuntimeException)
        found = re.search(r"Name:'([^']+)'", str(exc))
        return found.group(1) if found else ""
    return None


def qdq_input(graph: Any, ctx: ExportContext, work: Path) -> tuple[Path, list[str]]:
    """The fp32 ONNX graph the static quantiser reads: ORT layout rewrites (zoo models), tf2onnx, then
    ``quant_pre_process``; returns its path and the rewrite notes. Shared by the exporter and the guard."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from edgeseg.export.graph import as_graph

    graph, rewrites = as_graph(graph, ctx.head).for_onnxruntime_int8()
    proto = keras_to_onnx(graph, ctx.input_size, ctx.head)
    fp32, pre = work / "onnx_int8_fp32.onnx", work / "onnx_int8_pre.onnx"
    fp32.write_bytes(proto.SerializeToString())
    try:
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    except Exception as exc:  # pre-processing is an optimisation; quantise the plain graph instead
        log.warning("onnx quant_pre_process failed (%s); quantising without it", exc)
        pre = fp32
    return pre, rewrites


class _Frames:
    """onnxruntime CalibrationDataReader over the calibration frames (re-readable: ``rewind``, iteration)."""

    def __init__(self, ctx: ExportContext, input_name: str) -> None:
        self.ctx, self.input_name = ctx, input_name
        self.frames = ctx.calibration()  # type: ignore[misc]

    def get_next(self) -> dict[str, np.ndarray] | None:
        frame = next(self.frames, None)
        return None if frame is None else {self.input_name: frame}

    def rewind(self) -> None:  # onnxruntime calls it between calibration passes on some versions
        self.frames = self.ctx.calibration()  # type: ignore[misc]

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:  # qdq_loss_debug iterates the reader
        while (item := self.get_next()) is not None:
            yield item


def calibration_reader(ctx: ExportContext, model: Path) -> _Frames:
    """A calibration data reader feeding ``model``'s input."""
    import onnx

    return _Frames(ctx, onnx.load(str(model)).graph.input[0].name)


def quantize_qdq(pre: Path, out: Path, ctx: ExportContext, exclude: list[str] | None = None,
                 activation: str = "int8") -> None:
    """Static QDQ quantisation of ``pre`` into ``out``: per-channel int8 weights, uint8 activations (U8S8;
    ``activation="int16"``: QInt16 with contrib ops), ``exclude``: nodes left in float."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    method = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
              "percentile": CalibrationMethod.Percentile}[ctx.calib_method]
    act = {"int8": QuantType.QUInt8, "int16": QuantType.QInt16}[activation]
    extra = {"CalibTensorRangeSymmetric": False, **({"UseQDQContribOps": True} if activation == "int16" else {})}
    try:
        quantize_static(str(pre), str(out), calibration_reader(ctx, pre), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=act, weight_type=QuantType.QInt8, calibrate_method=method,
                        nodes_to_exclude=list(exclude or []), extra_options=extra)
    except Exception as exc:
        raise ExportError(f"ONNX int8 quantisation failed: {one_line(exc, 200)}") from None


def write_qdq(q: Path, out_path: Path, ctx: ExportContext, precision: str, extra: dict[str, Any]) -> ArtifactInfo:
    """Stamp a quantised model (producer, metadata), write it atomically and describe it."""
    import onnx

    out = onnx.load(str(q))
    out.producer_name, out.producer_version, out.doc_string = "edgeseg", __version__, ""
    _metadata(out, ctx, precision)
    _save(out, out_path)
    quant = {"weights": "int8 per-channel", "activations": "uint8" if precision == "int8" else "int16",
             "io": "float", "format": "QDQ", "calibration_images": ctx.calib_count,
             "calibration_method": ctx.calib_method, **extra}
    return _info(out, out_path, precision, quant)


#: The ONNX targets, by ``convert`` target name, in ``--all`` order. ``test_parity`` measured on the test model
#: (see :mod:`edgeseg.export.tflite`): onnx 100 / 6e-7 / 4e-8; onnx-fp16 99.97 / 0.0015 / 1.2e-4.
EXPORTERS: tuple[Exporter, ...] = (
    OnnxFloatExporter(name="onnx", precision="fp32", suffix=".onnx", summary=f"opset {OPSET}", min_agreement=99.9,
                      test_parity=ParityLimits(99.9, 1e-4, 1e-5)),
    OnnxFloatExporter(name="onnx-fp16", precision="fp16", suffix="_fp16.onnx", summary="float32 I/O kept",
                      min_agreement=99.5, test_parity=ParityLimits(99.9, 0.003, 3e-4)),
    OnnxInt8Exporter(),
)
