"""Cut a .tflite graph into one-op models (same tensors, weights, quantisation) with each op's GOPs and stage."""

from __future__ import annotations

import math
from typing import Any, Iterator

_KERNEL_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV"}


def _shape(t: Any) -> list[int]:
    return [int(d) for d in (t.shape if t.shape is not None else [])]


def op_macs(kind: str, ins: list[list[int]], outs: list[list[int]]) -> int:
    """Multiply-accumulates of one TFLite op from its tensor shapes (0 for ops without weights).

    ``ins``/``outs`` are the shapes of the op's inputs and outputs in TFLite order: CONV_2D
    ``(x, w[cout, kh, kw, cin], ...)``, DEPTHWISE_CONV_2D ``(x, w[1, kh, kw, c], ...)``, TRANSPOSE_CONV
    ``(output_shape, w[cout, kh, kw, cin], x, ...)``, FULLY_CONNECTED ``(x, w[out, in], ...)``.
    """
    if kind == "CONV_2D":
        _, kh, kw, cin = ins[1]
        return math.prod(outs[0][:-1]) * outs[0][-1] * kh * kw * cin
    if kind == "DEPTHWISE_CONV_2D":
        _, kh, kw, c = ins[1]
        return math.prod(outs[0][:-1]) * kh * kw * c
    if kind == "TRANSPOSE_CONV":  # every input pixel scatters a kh x kw x cout patch (as flops.py)
        cout, kh, kw, cin = ins[1]
        return math.prod(ins[2][:-1]) * kh * kw * cin * cout
    if kind == "FULLY_CONNECTED":
        out, inp = ins[1]
        return (math.prod(ins[0]) // inp) * inp * out
    return 0


def _label(name: str, op: Any, weights: list[int] | None) -> str:
    """``CONV_2D 3x3/2``, ``DEPTHWISE_CONV_2D 3x3 d4``, ``CONV_2D 5x1``, ``ADD``, ..."""
    if name not in _KERNEL_OPS or not weights:
        return name
    label = f"{name} {weights[1]}x{weights[2]}"
    opt = op.builtinOptions
    stride = int(getattr(opt, "strideH", 1) or 1)
    dilation = int(getattr(opt, "dilationHFactor", 1) or 1)
    if stride > 1:
        label += f"/{stride}"
    if dilation > 1:
        label += f" d{dilation}"
    return label


def _stages(rows: list[dict[str, Any]], graph_io: set[int]) -> None:
    """Set ``row["stage"]``: "io" for QUANTIZE/DEQUANTIZE at the graph edges, else "enc 1/s" while the
    op's stride s (input height / output height) is the deepest seen so far, "dec 1/s" once a deeper
    map came before it (a decoder, or ENet's upsampling bottlenecks)."""
    deepest = 0
    for r in rows:
        deepest = max(deepest, r["stride"])
        if r["op"] in ("QUANTIZE", "DEQUANTIZE") and r["tensors"] & graph_io:
            r["stage"] = "io"
        else:
            r["stage"] = f"{'dec' if r['stride'] < deepest else 'enc'} 1/{r['stride']}"
        del r["tensors"]


def op_models(buf: bytes) -> Iterator[tuple[dict[str, Any], bytes]]:
    """``(info, one_op_tflite)`` per op of subgraph 0, in execution order.

    Each one-op model keeps every tensor and buffer of ``buf`` (unused ones are not allocated); its
    inputs are the op's non-constant inputs, its outputs the op's outputs; signatures are dropped.
    ``info``: ``index, op, kind, output (tensor name), gop, stride, stage, input_hw``.
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as fb

    from edgeseg.runtime.tflite_reader import builtin_names

    names = builtin_names()
    model = fb.ModelT.InitFromPackedBuf(bytearray(buf), 0)
    sub = model.subgraphs[0]
    tensors, operators, graph_io = sub.tensors, list(sub.operators), {*sub.inputs, *sub.outputs}
    in_hw = _shape(tensors[sub.inputs[0]])[1:3]
    const = {i for i, t in enumerate(tensors)
             if t.buffer and model.buffers[t.buffer].data is not None and len(model.buffers[t.buffer].data)}
    model.signatureDefs = []
    rows = []
    for i, op in enumerate(operators):
        code = model.operatorCodes[op.opcodeIndex]
        name = names.get(max(code.builtinCode, code.deprecatedBuiltinCode), f"BUILTIN_{code.builtinCode}")
        ins = [_shape(tensors[t]) if t >= 0 else [] for t in op.inputs]
        outs = [_shape(tensors[t]) for t in op.outputs]
        out_h = outs[0][1] if len(outs[0]) == 4 else 0
        stride = 2 ** round(math.log2(in_hw[0] / out_h)) if out_h else 0
        weights = ins[1] if name in _KERNEL_OPS and len(ins) > 1 else None
        rows.append({"index": i, "op": name, "kind": _label(name, op, weights),
                     "output": (tensors[op.outputs[0]].name or b"").decode(errors="replace"),
                     "gop": 2 * op_macs(name, ins, outs) / 1e9, "stride": stride, "input_hw": in_hw,
                     "tensors": {*op.inputs, *op.outputs}})
    _stages(rows, graph_io)
    for op, row in zip(operators, rows):
        sub.operators = [op]
        sub.inputs = [t for t in op.inputs if t >= 0 and t not in const]
        sub.outputs = list(op.outputs)
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        yield row, bytes(builder.Output())
