"""The one .tflite flatbuffer reader (pure Python, no interpreter): op names and counts, I/O tensors, metadata.

It reads with the schema ai-edge-litert ships (``ai_edge_litert.schema_py_generated``, on top of the
``flatbuffers`` package). The runtime's structure check (:mod:`edgeseg.runtime.tflite_check`) and the
export side (metadata, lint, the converted model's I/O) both read through it; it lives in runtime/ because
export may import runtime and never the other way round. The functions here trust the file: check an
untrusted one with :func:`~edgeseg.runtime.tflite_check.verify_tflite` first.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from edgeseg.errors import ModelError

#: ``BuiltinOperator`` value of a custom op (its name is in ``OperatorCode.custom_code``).
CUSTOM_CODE = 32

TYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16",
              9: "int8", 10: "float64", 16: "uint16", 15: "uint32"}


def schema() -> Any:
    """The generated flatbuffer schema module; :class:`ModelError` (one line) if LiteRT is not installed."""
    try:
        from ai_edge_litert import schema_py_generated as fb  # pure Python + flatbuffers
    except ImportError as exc:  # pragma: no cover - ai-edge-litert always ships it
        raise ModelError(f"cannot read .tflite files: the LiteRT flatbuffer schema is unavailable ({exc})") from None
    return fb


def model_of(buf: bytes) -> Any:
    """The root ``Model`` table of a flatbuffer."""
    return schema().Model.GetRootAs(bytearray(buf) if not isinstance(buf, (bytes, bytearray)) else buf, 0)


@functools.lru_cache(maxsize=1)
def builtin_names() -> dict[int, str]:
    """Builtin operator code -> name (``CONV_2D``, ...)."""
    ops = schema().BuiltinOperator
    return {v: k for k, v in vars(ops).items() if not k.startswith("_") and isinstance(v, int)}


def builtin_code(oc: Any) -> int:
    """The builtin code of an ``OperatorCode`` (new files keep codes >= 127 only in ``builtin_code``)."""
    return max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())


def opcode_name(oc: Any) -> str:
    """An ``OperatorCode``'s name: ``CONV_2D``; ``CUSTOM:<code>`` for custom (and Flex) ops; ``BUILTIN_<n>``
    for a code this schema does not know."""
    code = builtin_code(oc)
    if code == CUSTOM_CODE:
        custom = oc.CustomCode()
        return f"CUSTOM:{custom.decode('utf-8', 'replace') if custom else '?'}"
    return builtin_names().get(code, f"BUILTIN_{code}")


def op_names(buf: bytes) -> list[str]:
    """Operator names used by the main subgraph, in first-use order, each once (see :func:`opcode_name`)."""
    return list(op_counts(buf))


def op_counts(buf: bytes) -> dict[str, int]:
    """How many times each operator occurs in the main subgraph, in first-use order."""
    model = model_of(buf)
    codes = [opcode_name(model.OperatorCodes(i)) for i in range(model.OperatorCodesLength())]
    sub = model.Subgraphs(0)
    out: dict[str, int] = {}
    for j in range(sub.OperatorsLength()):
        key = codes[sub.Operators(j).OpcodeIndex()]
        out[key] = out.get(key, 0) + 1
    return out


def is_builtin_only(buf: bytes) -> bool:
    """No custom ops and no Flex (select TF) ops."""
    return not any(n.startswith("CUSTOM:") for n in op_names(buf))


def _tensor_info(sub: Any, index: int) -> dict[str, Any]:
    t = sub.Tensors(index)
    q = t.Quantization()
    scale = zp = None
    if q is not None and q.ScaleLength() == 1:
        scale, zp = float(q.Scale(0)), int(q.ZeroPoint(0))
    shape = t.ShapeAsNumpy()
    return {
        "name": (t.Name() or b"").decode(),
        "shape": [int(v) for v in (shape if isinstance(shape, np.ndarray) else [])],
        "dtype": TYPE_NAMES.get(t.Type(), str(t.Type())),
        "scale": scale,
        "zero_point": zp,
    }


def io_details(buf: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """First input and first output tensor: name, shape, dtype, scale, zero point."""
    sub = model_of(buf).Subgraphs(0)
    return _tensor_info(sub, sub.Inputs(0)), _tensor_info(sub, sub.Outputs(0))


def metadata_entries(buf: bytes) -> dict[str, bytes]:
    """The model's ``metadata`` entries: name -> referenced buffer bytes."""
    model = model_of(buf)
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
