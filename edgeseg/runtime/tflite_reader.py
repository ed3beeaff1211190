"""Read a .tflite flatbuffer without an interpreter: op names, I/O tensors, metadata entries."""

from __future__ import annotations

from typing import Any

import numpy as np

_TYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16",
               9: "int8", 10: "float64", 16: "uint16", 15: "uint32"}


def _schema() -> Any:
    from ai_edge_litert import schema_py_generated as fb  # pure Python + flatbuffers

    return fb


def _root(buf: bytes) -> Any:
    return _schema().Model.GetRootAs(bytearray(buf) if not isinstance(buf, (bytes, bytearray)) else buf, 0)


def builtin_names() -> dict[int, str]:
    """Builtin operator code -> name (``CONV_2D``, ...)."""
    ops = _schema().BuiltinOperator
    return {v: k for k, v in vars(ops).items() if not k.startswith("_") and isinstance(v, int)}


def op_names(buf: bytes) -> list[str]:
    """Operator names used by the main subgraph, in first-use order, each once.

    Custom ops appear as ``CUSTOM:<code>``; ``is_builtin_only`` checks for those.
    """
    model = _root(buf)
    names = builtin_names()
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        if code == 32:  # CUSTOM
            custom = oc.CustomCode()
            codes.append(f"CUSTOM:{custom.decode() if custom else '?'}")
        else:
            codes.append(names.get(code, f"BUILTIN_{code}"))
    sub = model.Subgraphs(0)
    seen: dict[str, None] = {}
    for j in range(sub.OperatorsLength()):
        seen.setdefault(codes[sub.Operators(j).OpcodeIndex()], None)
    return list(seen)


def op_counts(buf: bytes) -> dict[str, int]:
    """How many times each operator occurs in the main subgraph."""
    model = _root(buf)
    order = op_names(buf)
    names = builtin_names()
    out = {k: 0 for k in order}
    sub = model.Subgraphs(0)
    for j in range(sub.OperatorsLength()):
        oc = model.OperatorCodes(sub.Operators(j).OpcodeIndex())
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        key = names.get(code, f"BUILTIN_{code}") if code != 32 else f"CUSTOM:{(oc.CustomCode() or b'?').decode()}"
        out[key] = out.get(key, 0) + 1
    return out


def is_builtin_only(buf: bytes) -> bool:
    """No custom ops and no Flex (select TF) ops."""
    return not any(n.startswith("CUSTOM:") for n in op_names(buf))


def _tensor_info(model: Any, sub: Any, index: int) -> dict[str, Any]:
    t = sub.Tensors(index)
    q = t.Quantization()
    scale = zp = None
    if q is not None and q.ScaleLength() == 1:
        scale, zp = float(q.Scale(0)), int(q.ZeroPoint(0))
    shape = t.ShapeAsNumpy()
    return {
        "name": (t.Name() or b"").decode(),
        "shape": [int(v) for v in (shape if isinstance(shape, np.ndarray) else [])],
        "dtype": _TYPE_NAMES.get(t.Type(), str(t.Type())),
        "scale": scale,
        "zero_point": zp,
    }


def io_details(buf: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """First input and first output tensor: name, shape, dtype, scale, zero point."""
    model = _root(buf)
    sub = model.Subgraphs(0)
    return _tensor_info(model, sub, sub.Inputs(0)), _tensor_info(model, sub, sub.Outputs(0))


def metadata_entries(buf: bytes) -> dict[str, bytes]:
    """The model's ``metadata`` entries: name -> referenced buffer bytes."""
    model = _root(buf)
    out: dict[str, bytes] = {}
    for i in range(model.MetadataLength()):
        m = model.Metadata(i)
        data = model.Buffers(m.Buffer())
        raw = data.DataAsNumpy() if data is not None and data.DataLength() else None
        if raw is None and data is not None and data.Size():  # stored outside the flatbuffer
            off, size = int(data.Offset()), int(data.Size())
            out[(m.Name() or b"").decode()] = bytes(buf[off:off + size])
            continue
        out[(m.Name() or b"").decode()] = bytes(raw.tobytes()) if raw is not None else b""
    return out
