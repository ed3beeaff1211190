"""The one .tflite reader on a flatbuffer built here from the schema (no TensorFlow), so every answer is known."""

from __future__ import annotations

import flatbuffers
import numpy as np
import pytest

from edgeseg.runtime import tflite_reader as reader
from edgeseg.runtime.tflite_check import verify_tflite_bytes

fb = pytest.importorskip("ai_edge_litert.schema_py_generated")

META = b'{"edgeseg": 1}'
EXTERNAL = b"bytes kept after the flatbuffer"


def _code(builtin: int, custom: str | None = None) -> object:
    code = fb.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), 1
    code.customCode = custom
    return code


def _tensor(name: str, shape: list[int], dtype: int, buffer: int = 0,
            quant: tuple[float, int] | None = None) -> object:
    t = fb.TensorT()
    t.name, t.shape, t.type, t.buffer = name, shape, dtype, buffer
    if quant is not None:
        q = fb.QuantizationParametersT()
        q.scale, q.zeroPoint = [quant[0]], [quant[1]]
        t.quantization = q
    return t


def _op(code: int, ins: list[int], outs: list[int]) -> object:
    op = fb.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = code, ins, outs
    return op


def _buffer(data: bytes | None = None) -> object:
    b = fb.BufferT()
    b.data = None if data is None else np.frombuffer(data, np.uint8)
    return b


def _model(external: bool = False) -> bytes:
    """int8 input (scale 0.5, zero point -3) -> CONV_2D -> custom MyOp -> CONV_2D -> float32 output.

    Operator codes are listed out of use order (RESHAPE unused) so that first-use order is tested. With
    ``external``, a second metadata entry points at bytes stored after the flatbuffer (offset + size)."""
    m = fb.ModelT()
    m.version = 3
    m.operatorCodes = [_code(fb.BuiltinOperator.RESHAPE), _code(32, "MyOp"), _code(fb.BuiltinOperator.CONV_2D)]
    sg = fb.SubGraphT()
    sg.tensors = [_tensor("image", [1, 4, 4, 3], fb.TensorType.INT8, quant=(0.5, -3)),
                  _tensor("a", [1, 4, 4, 2], fb.TensorType.FLOAT32),
                  _tensor("b", [1, 4, 4, 2], fb.TensorType.FLOAT32),
                  _tensor("logits", [1, 4, 4, 5], fb.TensorType.FLOAT32)]
    sg.inputs, sg.outputs = [0], [3]
    sg.operators = [_op(2, [0], [1]), _op(1, [1], [2]), _op(2, [2], [3])]
    m.subgraphs = [sg]
    m.buffers = [_buffer(), _buffer(META), _buffer()]
    meta = fb.MetadataT()
    meta.name, meta.buffer = "edgeseg_manifest", 1
    m.metadata = [meta]
    if external:
        ext = fb.MetadataT()
        ext.name, ext.buffer = "external", 2
        m.metadata.append(ext)
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    buf = bytes(builder.Output())
    if not external:
        return buf
    m.buffers[2].offset, m.buffers[2].size = len(buf) + 64, len(EXTERNAL)  # room for the re-packed tables
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    buf = bytes(builder.Output())
    assert len(buf) <= m.buffers[2].offset
    return buf + bytes(m.buffers[2].offset - len(buf)) + EXTERNAL


def test_op_names_and_counts_in_first_use_order() -> None:
    buf = _model()
    assert reader.op_names(buf) == ["CONV_2D", "CUSTOM:MyOp"]
    assert reader.op_counts(buf) == {"CONV_2D": 2, "CUSTOM:MyOp": 1}
    assert not reader.is_builtin_only(buf)
    assert reader.builtin_names()[fb.BuiltinOperator.CONV_2D] == "CONV_2D"


def test_structure_check_names_ops_as_the_reader_does() -> None:
    s = verify_tflite_bytes(_model())
    assert (s.version, s.subgraphs, s.operators, s.tensors, s.buffers) == (3, 1, 3, 4, 3)
    assert s.op_types == reader.op_counts(_model())


def test_io_details() -> None:
    inp, out = reader.io_details(_model())
    assert inp == {"name": "image", "shape": [1, 4, 4, 3], "dtype": "int8", "scale": 0.5, "zero_point": -3}
    assert out == {"name": "logits", "shape": [1, 4, 4, 5], "dtype": "float32", "scale": None, "zero_point": None}


def test_metadata_entries_inline_and_external() -> None:
    assert reader.metadata_entries(_model()) == {"edgeseg_manifest": META}
    buf = _model(external=True)
    assert reader.metadata_entries(buf) == {"edgeseg_manifest": META, "external": EXTERNAL}
    assert reader.metadata_entries(bytearray(buf))["external"] == EXTERNAL


def test_unknown_builtin_code_is_named_by_number() -> None:
    code = fb.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = 9999, 127, 1
    builder = flatbuffers.Builder(64)
    builder.Finish(code.Pack(builder))
    packed = fb.OperatorCode.GetRootAs(builder.Output(), 0)
    assert reader.opcode_name(packed) == "BUILTIN_9999"
