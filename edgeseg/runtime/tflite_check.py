"""Verify a .tflite flatbuffer in pure Python before any native interpreter touches it.

The LiteRT interpreter trusts its input: a truncated or bit-flipped file can crash the
process (out-of-range tensor/buffer indices, data shorter than a tensor's shape). This
module walks the flatbuffer through :mod:`edgeseg.runtime.tflite_reader` (the schema ai-edge-litert
ships, on top of the ``flatbuffers`` package) and checks
every index and length the interpreter will dereference. Every read is Python-level, so a
bad offset raises an exception here, never a segfault; any failure becomes a one-line
:class:`~edgeseg.errors.ModelError`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeseg.errors import ModelError
from edgeseg.runtime.tflite_reader import opcode_name, schema

log = logging.getLogger(__name__)

FILE_IDENTIFIER = b"TFL3"
# Bytes per element of fixed-width TensorType values (schema enum -> size); others are not checked.
_ELEMENT_SIZE = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 9: 1, 10: 8, 12: 8, 15: 4, 16: 2, 18: 2}
_MAX_RANK = 16


@dataclass
class TFLiteSummary:
    """What verification learnt about the model (cheap by-products of the walk)."""

    version: int
    subgraphs: int
    operators: int
    tensors: int
    buffers: int
    op_types: dict[str, int] = field(default_factory=dict)  # all subgraphs; names as tflite_reader.opcode_name


def verify_tflite(path: str | os.PathLike[str]) -> TFLiteSummary:
    """Check a .tflite file's structure; return a summary or raise a one-line :class:`ModelError`."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ModelError(f"{p}: cannot read ({exc.strerror})") from None
    try:
        return verify_tflite_bytes(data)
    except ModelError as exc:
        raise ModelError(f"{p}: corrupt .tflite file ({exc})") from None


def verify_tflite_bytes(data: bytes) -> TFLiteSummary:
    """As :func:`verify_tflite` on an in-memory model; the message does not name a file."""
    size = len(data)
    if size < 16:
        raise ModelError(f"only {size} bytes")
    if data[4:8] != FILE_IDENTIFIER:
        raise ModelError("file identifier is not TFL3")
    root = int.from_bytes(data[0:4], "little")
    if not 8 <= root < size - 4:
        raise ModelError(f"root table offset {root} outside the {size}-byte file")
    fb = schema()
    try:
        return _walk(fb, data)
    except ModelError:
        raise
    except Exception as exc:  # struct.error, IndexError, ValueError from an out-of-range offset
        log.debug("flatbuffer walk failed", exc_info=True)
        raise ModelError("flatbuffer tables do not parse (an offset points outside the file)") from None


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ModelError(msg)


def _walk(fb: Any, data: bytes) -> TFLiteSummary:
    size = len(data)
    model = fb.Model.GetRootAs(data, 0)
    version = model.Version()
    _check(version == 3, f"schema version {version}, expected 3")
    n_buf = model.BuffersLength()
    n_codes = model.OperatorCodesLength()
    n_sub = model.SubgraphsLength()
    _check(n_sub >= 1, "no subgraphs")
    _check(n_buf >= 1, "no buffers table")
    buf_len: list[int] = []
    for b in range(n_buf):
        buf = model.Buffers(b)
        _check(buf is not None, f"buffer {b} missing")
        length = buf.DataLength()
        if length:
            start = buf._tab.Vector(4)  # pylint: disable=protected-access
            _check(0 < start and start + length <= size, f"buffer {b} data runs past the end of the file")
        off, nbytes = buf.Offset(), buf.Size()
        if off > 1:  # large models keep data after the flatbuffer: offset + size must fit
            _check(off + nbytes <= size, f"buffer {b} external data runs past the end of the file")
            length = nbytes
        buf_len.append(length)
    codes = [opcode_name(model.OperatorCodes(c)) for c in range(n_codes)]
    op_types: dict[str, int] = {}
    n_ops = n_tensors = 0
    for s in range(n_sub):
        sg = model.Subgraphs(s)
        _check(sg is not None, f"subgraph {s} missing")
        nt = sg.TensorsLength()
        n_tensors += nt
        for t in range(nt):
            _check_tensor(sg.Tensors(t), s, t, n_buf, buf_len)
        for kind, idx in (("input", sg.InputsAsNumpy()), ("output", sg.OutputsAsNumpy())):
            if not isinstance(idx, int):  # 0 means "absent" in the generated code
                _check(bool(((idx >= 0) & (idx < nt)).all()), f"subgraph {s} {kind} index out of range")
        for o in range(sg.OperatorsLength()):
            op = sg.Operators(o)
            oc = op.OpcodeIndex()
            _check(0 <= oc < n_codes, f"operator {o} of subgraph {s} has opcode index {oc} of {n_codes}")
            for kind, idx in (("input", op.InputsAsNumpy()), ("output", op.OutputsAsNumpy())):
                if not isinstance(idx, int):
                    _check(bool(((idx >= -1) & (idx < nt)).all()),
                           f"operator {o} of subgraph {s} has an {kind} tensor index out of range")
            op_types[codes[oc]] = op_types.get(codes[oc], 0) + 1
            n_ops += 1
    return TFLiteSummary(version, n_sub, n_ops, n_tensors, n_buf, op_types)


def _check_tensor(tensor: Any, s: int, t: int, n_buf: int, buf_len: list[int]) -> None:
    _check(tensor is not None, f"tensor {t} of subgraph {s} missing")
    b = tensor.Buffer()
    _check(0 <= b < n_buf, f"tensor {t} of subgraph {s} points at buffer {b} of {n_buf}")
    rank = tensor.ShapeLength()
    _check(rank <= _MAX_RANK, f"tensor {t} of subgraph {s} has rank {rank}")
    shape = [int(tensor.Shape(i)) for i in range(rank)]
    _check(all(d >= -1 for d in shape), f"tensor {t} of subgraph {s} has a negative dimension")
    elem = _ELEMENT_SIZE.get(tensor.Type())
    if buf_len[b] and elem and tensor.Sparsity() is None and all(d >= 0 for d in shape):
        need = elem
        for d in shape:
            need *= d
        _check(buf_len[b] == need,
               f"constant tensor {t} of subgraph {s} holds {buf_len[b]} bytes, its shape needs {need}")
