"""Write and read TFLite model metadata (the ``M001`` flatbuffer + zipped label file) without tflite-support.

Layout follows tflite-support's ``metadata_schema.fbs`` (ModelMetadata -> SubGraphMetadata ->
TensorMetadata) and MediaPipe's ``image_segmenter_metadata_schema.fbs`` (``SEGMENTER_METADATA``
custom metadata carrying the output activation). The metadata flatbuffer is stored in a model
buffer referenced by ``Model.metadata`` under the name ``TFLITE_METADATA``; associated files
(the label file) are appended to the model as a zip archive, so the .tflite is also a valid zip.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from typing import Any

import flatbuffers
from flatbuffers import table as fbtable

from edgeseg.core.spec import Spec

METADATA_NAME = "TFLITE_METADATA"
LABEL_FILE = "labels.txt"
_MIN_PARSER = "1.5.0"  # custom_metadata (SEGMENTER_METADATA) was added in schema 1.5.0
_COLOR_RGB, _COLOR_GRAY = 1, 2
_CONTENT_IMAGE = 2  # ContentProperties union: FeatureProperties=1, ImageProperties=2
_UNIT_NORMALIZATION = 1  # ProcessUnitOptions union
_FILE_AXIS_LABELS, _FILE_VALUE_LABELS = 2, 3
ACTIVATIONS = {"logits": 0, "softmax": 2, "argmax": 0}  # NONE=0, SIGMOID=1, SOFTMAX=2
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass
class SegmenterMetadata:
    """What edgeseg puts into (and reads back from) a .tflite's metadata."""

    name: str
    description: str
    version: str
    input_size: tuple[int, int]
    mean: list[float]
    std: list[float]
    labels: list[str]
    head: str = "logits"
    author: str = "edgeseg"
    label_file: str = LABEL_FILE
    activation: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    channels: int = 3  # 1: a grayscale input (GRAYSCALE colour space, one mean/std)

    @classmethod
    def from_spec(cls, spec: Spec, *, name: str, input_size: tuple[int, int], head: str,
                  version: str, description: str = "", channels: int = 3) -> "SegmenterMetadata":
        """Pixel-unit normalisation (``(x - 255*mean) / (255*std)``) and class labels from a spec."""
        return cls(name=name, description=description or f"{spec.name} semantic segmentation ({head})",
                   version=version, input_size=tuple(input_size),  # type: ignore[arg-type]
                   mean=[round(255.0 * m, 6) for m in spec.mean][:channels],
                   std=[round(255.0 * s, 6) for s in spec.std][:channels],
                   labels=list(spec.class_names), head=head, activation=ACTIVATIONS.get(head, 0), channels=channels)


# ----------------------------------------------------------------------------------- writing

def _strings(b: flatbuffers.Builder, values: list[str]) -> int:
    offs = [b.CreateString(v) for v in values]
    b.StartVector(4, len(offs), 4)
    for o in reversed(offs):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def _tables(b: flatbuffers.Builder, offs: list[int]) -> int:
    b.StartVector(4, len(offs), 4)
    for o in reversed(offs):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def _floats(b: flatbuffers.Builder, values: list[float]) -> int:
    b.StartVector(4, len(values), 4)
    for v in reversed(values):
        b.PrependFloat32(float(v))
    return b.EndVector()


def _associated_file(b: flatbuffers.Builder, name: str, description: str, kind: int) -> int:
    n, d = b.CreateString(name), b.CreateString(description)
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(0, n, 0)
    b.PrependUOffsetTRelativeSlot(1, d, 0)
    b.PrependInt8Slot(2, kind, 0)
    return b.EndObject()


def _image_content(b: flatbuffers.Builder, color: int, size: tuple[int, int] | None) -> int:
    size_off = None
    if size is not None:
        b.StartObject(2)
        b.PrependUint32Slot(0, int(size[1]), 0)  # width
        b.PrependUint32Slot(1, int(size[0]), 0)  # height
        size_off = b.EndObject()
    b.StartObject(2)
    b.PrependInt8Slot(0, color, 0)
    if size_off is not None:
        b.PrependUOffsetTRelativeSlot(1, size_off, 0)
    props = b.EndObject()
    b.StartObject(3)  # Content: content_properties_type, content_properties, range
    b.PrependUint8Slot(0, _CONTENT_IMAGE, 0)
    b.PrependUOffsetTRelativeSlot(1, props, 0)
    return b.EndObject()


def _normalization(b: flatbuffers.Builder, mean: list[float], std: list[float]) -> int:
    m, s = _floats(b, mean), _floats(b, std)
    b.StartObject(2)
    b.PrependUOffsetTRelativeSlot(0, m, 0)
    b.PrependUOffsetTRelativeSlot(1, s, 0)
    opts = b.EndObject()
    b.StartObject(2)  # ProcessUnit: options_type, options
    b.PrependUint8Slot(0, _UNIT_NORMALIZATION, 0)
    b.PrependUOffsetTRelativeSlot(1, opts, 0)
    return _tables(b, [b.EndObject()])


def _stats(b: flatbuffers.Builder, lo: float, hi: float) -> int:
    mx, mn = _floats(b, [hi]), _floats(b, [lo])
    b.StartObject(2)
    b.PrependUOffsetTRelativeSlot(0, mx, 0)
    b.PrependUOffsetTRelativeSlot(1, mn, 0)
    return b.EndObject()


def _tensor(b: flatbuffers.Builder, name: str, description: str, content: int, units: int | None = None,
            stats: int | None = None, files: int | None = None) -> int:
    n, d = b.CreateString(name), b.CreateString(description)
    b.StartObject(7)
    b.PrependUOffsetTRelativeSlot(0, n, 0)
    b.PrependUOffsetTRelativeSlot(1, d, 0)
    b.PrependUOffsetTRelativeSlot(3, content, 0)
    for slot, off in ((4, units), (5, stats), (6, files)):
        if off is not None:
            b.PrependUOffsetTRelativeSlot(slot, off, 0)
    return b.EndObject()


def _segmenter_options(activation: int) -> bytes:
    b = flatbuffers.Builder(64)
    v = b.CreateString("1.0.0")
    b.StartObject(2)
    b.PrependInt8Slot(0, activation, 0)
    b.PrependUOffsetTRelativeSlot(1, v, 0)
    b.Finish(b.EndObject(), file_identifier=b"V001")
    return bytes(b.Output())


def _custom(b: flatbuffers.Builder, name: str, data: bytes) -> int:
    n = b.CreateString(name)
    b.StartVector(1, len(data), 16)
    for byte in reversed(data):
        b.PrependUint8(byte)
    vec = b.EndVector()
    b.StartObject(2)
    b.PrependUOffsetTRelativeSlot(0, n, 0)
    b.PrependUOffsetTRelativeSlot(1, vec, 0)
    return b.EndObject()


def build_metadata(meta: SegmenterMetadata) -> bytes:
    """The ``M001`` ModelMetadata flatbuffer for an image segmenter."""
    b = flatbuffers.Builder(1024)
    gray = meta.channels == 1
    in_content = _image_content(b, _COLOR_GRAY if gray else _COLOR_RGB, meta.input_size)
    units = _normalization(b, meta.mean, meta.std)
    in_stats = _stats(b, 0.0, 255.0)
    inp = _tensor(b, "image", f"{'grayscale' if gray else 'RGB'} image, {meta.input_size[1]}x{meta.input_size[0]}, "
                  "normalised as "
                  "(pixel - mean) / std", in_content, units, in_stats)
    kind = _FILE_VALUE_LABELS if meta.head == "argmax" else _FILE_AXIS_LABELS
    files = _tables(b, [_associated_file(b, meta.label_file, "class names, one per line", kind)])
    out_content = _image_content(b, _COLOR_GRAY, None)
    what = {"argmax": "class index per pixel", "softmax": "per-class probabilities",
            "logits": "per-class logits"}.get(meta.head, meta.head)
    out = _tensor(b, "segmentation_masks", f"{what} at input resolution", out_content, files=files)
    custom = _tables(b, [_custom(b, "SEGMENTER_METADATA", _segmenter_options(meta.activation))])
    sg_name = b.CreateString(meta.name)
    ins, outs = _tables(b, [inp]), _tables(b, [out])
    b.StartObject(10)
    b.PrependUOffsetTRelativeSlot(0, sg_name, 0)
    b.PrependUOffsetTRelativeSlot(2, ins, 0)
    b.PrependUOffsetTRelativeSlot(3, outs, 0)
    b.PrependUOffsetTRelativeSlot(9, custom, 0)
    subgraph = b.EndObject()
    sgs = _tables(b, [subgraph])
    name, desc = b.CreateString(meta.name), b.CreateString(meta.description)
    version, author = b.CreateString(meta.version), b.CreateString(meta.author)
    parser = b.CreateString(_MIN_PARSER)
    b.StartObject(8)
    b.PrependUOffsetTRelativeSlot(0, name, 0)
    b.PrependUOffsetTRelativeSlot(1, desc, 0)
    b.PrependUOffsetTRelativeSlot(2, version, 0)
    b.PrependUOffsetTRelativeSlot(3, sgs, 0)
    b.PrependUOffsetTRelativeSlot(4, author, 0)
    b.PrependUOffsetTRelativeSlot(7, parser, 0)
    b.Finish(b.EndObject(), file_identifier=b"M001")
    return bytes(b.Output())


def _aligned_buffer(fb: Any, data: Any) -> Any:
    class AlignedBufferT(fb.BufferT):
        def Pack(self, builder: flatbuffers.Builder) -> int:  # noqa: N802 - flatbuffers naming
            if self.data is None or len(self.data) == 0:
                return super().Pack(builder)
            raw = bytes(self.data.tobytes() if hasattr(self.data, "tobytes") else bytearray(self.data))
            builder.StartVector(1, len(raw), 16)  # weights stay 16-byte aligned, as the converter leaves them
            builder.head = builder.head - len(raw)
            builder.Bytes[builder.head:builder.head + len(raw)] = raw
            vec = builder.EndVector()
            fb.BufferStart(builder)
            fb.BufferAddData(builder, vec)
            return fb.BufferEnd(builder)

    out = AlignedBufferT()
    out.data = data
    return out


def populate(model: bytes, meta: SegmenterMetadata) -> bytes:
    """``model`` with the metadata buffer added and the label file appended as a zip archive.

    Any previous ``TFLITE_METADATA`` entry is replaced. Output is deterministic for equal inputs.
    """
    from ai_edge_litert import schema_py_generated as fb

    obj = fb.ModelT.InitFromPackedBuf(bytearray(model), 0)
    obj.buffers = [_aligned_buffer(fb, buf.data) for buf in (obj.buffers or [])]
    obj.metadata = [m for m in (obj.metadata or []) if (m.name or b"") not in (METADATA_NAME,
                                                                               METADATA_NAME.encode())]
    entry = fb.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(obj.buffers)
    obj.buffers.append(_aligned_buffer(fb, bytearray(build_metadata(meta))))
    obj.metadata.append(entry)
    b = flatbuffers.Builder(len(model) + 4096)
    b.Finish(obj.Pack(b), file_identifier=b"TFL3")
    out = io.BytesIO(bytes(b.Output()))
    out.seek(0, io.SEEK_END)
    with zipfile.ZipFile(out, "a") as zf:  # appended archive: offsets are absolute, so the file is a zip
        info = zipfile.ZipInfo(meta.label_file, date_time=_ZIP_TIME)
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        zf.writestr(info, "\n".join(meta.labels) + "\n")
    return out.getvalue()


# ----------------------------------------------------------------------------------- reading

class _Table:
    """Minimal reader over a flatbuffers table (field slots as in the schema)."""

    def __init__(self, buf: bytes, pos: int) -> None:
        self.t = fbtable.Table(bytearray(buf) if isinstance(buf, bytes) else buf, pos)

    def _off(self, slot: int) -> int:
        return self.t.Offset(4 + 2 * slot)

    def string(self, slot: int) -> str | None:
        o = self._off(slot)
        return self.t.String(o + self.t.Pos).decode() if o else None

    def scalar(self, slot: int, flags: Any, default: int = 0) -> int:
        o = self._off(slot)
        return self.t.Get(flags, o + self.t.Pos) if o else default

    def table(self, slot: int) -> "_Table | None":
        o = self._off(slot)
        return _Table(self.t.Bytes, self.t.Indirect(o + self.t.Pos)) if o else None

    def tables(self, slot: int) -> list["_Table"]:
        o = self._off(slot)
        if not o:
            return []
        start, n = self.t.Vector(o), self.t.VectorLen(o)
        return [_Table(self.t.Bytes, self.t.Indirect(start + 4 * i)) for i in range(n)]

    def floats(self, slot: int) -> list[float]:
        o = self._off(slot)
        if not o:
            return []
        start, n = self.t.Vector(o), self.t.VectorLen(o)
        return [float(self.t.Get(flatbuffers.number_types.Float32Flags, start + 4 * i)) for i in range(n)]

    def raw_bytes(self, slot: int) -> bytes:
        o = self._off(slot)
        if not o:
            return b""
        start, n = self.t.Vector(o), self.t.VectorLen(o)
        return bytes(self.t.Bytes[start:start + n])


def read_metadata(model: bytes) -> dict[str, Any]:
    """Parse what :func:`populate` wrote: name, version, input size, mean/std, labels, activation.

    Raises:
        KeyError: the model carries no ``TFLITE_METADATA``.
    """
    from edgeseg.runtime.tflite_reader import metadata_entries

    raw = metadata_entries(model)[METADATA_NAME]
    if raw[4:8] != b"M001":
        raise ValueError("TFLITE_METADATA buffer is not an M001 metadata flatbuffer")
    n = flatbuffers.number_types
    root = _Table(raw, flatbuffers.encode.Get(n.UOffsetTFlags.packer_type, bytearray(raw), 0))
    sub = root.tables(3)[0]
    inp, out = sub.tables(2)[0], sub.tables(3)[0]
    props = inp.table(3).table(1)  # type: ignore[union-attr]
    size = props.table(1) if props is not None else None
    norm = inp.tables(4)[0].table(1)
    files = out.tables(6)
    label_name = files[0].string(0) if files else None
    labels: list[str] = []
    if label_name:
        with zipfile.ZipFile(io.BytesIO(model)) as zf:
            labels = zf.read(label_name).decode("utf-8").splitlines()
    activation = 0
    for cm in sub.tables(9):
        if cm.string(0) == "SEGMENTER_METADATA":
            opts = cm.raw_bytes(1)
            t = _Table(opts, flatbuffers.encode.Get(n.UOffsetTFlags.packer_type, bytearray(opts), 0))
            activation = t.scalar(0, n.Int8Flags)
    return {
        "name": root.string(0),
        "description": root.string(1),
        "version": root.string(2),
        "author": root.string(4),
        "min_parser_version": root.string(7),
        "input_name": inp.string(0),
        "input_size": (size.scalar(1, n.Uint32Flags), size.scalar(0, n.Uint32Flags)) if size else None,
        "color_space": props.scalar(0, n.Int8Flags) if props else None,
        "mean": norm.floats(0) if norm else [],
        "std": norm.floats(1) if norm else [],
        "label_file": label_name,
        "label_file_type": files[0].scalar(2, n.Int8Flags) if files else None,
        "labels": labels,
        "activation": activation,
    }
