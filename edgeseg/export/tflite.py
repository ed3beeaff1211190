"""TFLite exporters: fp32, fp16, dynamic-range int8, full-integer int8 and int16x8, one parameterised class."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from edgeseg import __version__
from edgeseg.core.fileio import write_bytes_atomic
from edgeseg.errors import ExportError
from edgeseg.export.calibrate import fast_minmax_calibration, first_frame
from edgeseg.export.base import ArtifactInfo, ExportContext, Exporter, ParityLimits
from edgeseg.export.head import is_pixel_spec
from edgeseg.runtime.tflite_reader import io_details, op_names

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Recipe:
    """Converter settings of one TFLite precision."""

    optimize: bool = False
    float16: bool = False
    ops: str = "builtins"  # builtins | int8 | int16x8
    integer_io: bool = False  # whether --io uint8/int8 applies


def converter_for(graph: Any) -> Any:
    """A ``TFLiteConverter`` over the graph's frozen batch-1 concrete function (input ``image``).

    ``graph`` is an :class:`~edgeseg.export.graph.ExportGraph` (any source) or a prepared tf_keras model.
    ``from_keras_model`` (and ``from_concrete_functions`` given the model as trackable object) first
    saves a SavedModel, tracing every layer's call function: 35 s of CPU for ENet, against 3 s for
    freezing the one concrete function. The graphs are the same (identical ops and outputs); the
    I/O tensors are named ``image`` / ``Identity`` and the flatbuffer has no signature def.
    """
    from edgeseg._keras import tf
    from edgeseg.export.graph import as_graph

    graph = as_graph(graph)
    conv = tf.lite.TFLiteConverter.from_concrete_functions([graph.concrete()], graph.trackable)
    conv.experimental_lower_to_saved_model = False
    return conv


class TFLiteExporter(Exporter):
    """``tf.lite.TFLiteConverter`` with one recipe; writes the model with TFLite metadata inside."""

    format = "tflite"

    def __init__(self, *, recipe: _Recipe, **described: Any) -> None:
        super().__init__(**described)
        self.recipe = recipe

    def export(self, graph: Any, out_path: Path, ctx: ExportContext) -> ArtifactInfo:
        """Convert, add metadata, write atomically; see :class:`Exporter`."""
        from edgeseg._keras import tf

        conv = converter_for(graph)
        r = self.recipe
        if r.optimize:
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
        if r.float16:
            conv.target_spec.supported_types = [tf.float16]
        quant: dict[str, Any] = {}
        fast = None
        if self.needs_calibration:
            if ctx.calibration is None:
                raise ExportError(f"{self.name} needs calibration images (--calib-data)")
            make = ctx.calibration

            def representative() -> Iterator[list[Any]]:
                for frame in make():
                    yield [frame]

            conv.representative_dataset = representative
            method = "minmax (TFLite converter)"
            if r.ops == "int8":  # the new quantiser reads min/max only: gather them on XNNPACK (same stats)
                pixels = is_pixel_spec(ctx.spec)  # raw pixels: input range 0..255 -> uint8 scale 1, zp 0
                fast = fast_minmax_calibration(make, input_range=(0.0, 255.0) if pixels else None)
                conv.representative_dataset = first_frame(make)
                method = "minmax (TFLite quantiser; statistics gathered on XNNPACK)"
            quant.update(calibration_images=ctx.calib_count, calibration_method=method)
        if r.ops == "int8":
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        elif r.ops == "int16x8":
            conv.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        io = ctx.io if r.integer_io else "float"
        if io != "float":
            dtype = {"uint8": tf.uint8, "int8": tf.int8}[io]
            conv.inference_input_type = dtype
            if ctx.head != "argmax":  # an argmax head already outputs uint8 class indices
                conv.inference_output_type = dtype
        try:
            with fast if fast is not None else contextlib.nullcontext():
                model = conv.convert()
        except Exception as exc:  # the converter raises many types (ConverterError, ValueError, ...)
            first = next((ln for ln in str(exc).splitlines() if "error" in ln.lower()), str(exc))
            once = ". ".join(dict.fromkeys(p.strip(" .") for p in " ".join(first.split()).split(". ") if p.strip()))
            raise ExportError(f"TFLite {self.precision} conversion failed: {once[:200]}") from None
        quant.update(weights=_weights_of(self.precision), activations=_activations_of(self.precision), io=io)
        return write_tflite(model, out_path, ctx, self.precision, quant)


def write_tflite(model: bytes, out_path: Path, ctx: ExportContext, precision: str,
                 quant: dict[str, Any]) -> ArtifactInfo:
    """Add TFLite metadata (named after the artifact's stem), write atomically, describe the artifact.
    Shared by the exporters and the guard's candidates."""
    from edgeseg.export.tflite_metadata import SegmenterMetadata, populate  # flatbuffers: not for `--help`

    inp, _ = io_details(model)
    channels = 1 if len(inp["shape"]) == 4 and inp["shape"][-1] == 1 else 3
    meta = SegmenterMetadata.from_spec(ctx.spec, name=out_path.stem, input_size=ctx.input_size, head=ctx.head,
                                       version=__version__, channels=channels)
    model = populate(model, meta)
    write_bytes_atomic(out_path, model)
    inp, out = io_details(model)
    return ArtifactInfo(path=out_path, format="tflite", precision=precision, size_bytes=len(model), input=inp,
                        output=out, ops=op_names(model), quantization=quant)


def _weights_of(precision: str) -> str:
    return {"fp32": "float32", "fp16": "float16"}.get(precision, "int8")


def _activations_of(precision: str) -> str:
    return {"int8": "int8", "int16x8": "int16"}.get(precision, "float32")


#: The TFLite targets, by ``convert`` target name, in ``--all`` order. ``test_parity``: measured on the test
#: model (agreement % / max / mean |logit diff|) fp32 100 / 0 / 0; fp16 99.98 / 0.00096 / 9.9e-5; dynamic
#: 99.47 / 0.0147 / 0.0017; int8 97.53 / 0.028 / 0.0045; int16x8 99.33 / 0.0098 / 0.0017. Limits: about 0.5-1
#: point under the agreement, about 2x the differences.
EXPORTERS: tuple[TFLiteExporter, ...] = (
    TFLiteExporter(name="fp32", precision="fp32", suffix="_fp32.tflite", recipe=_Recipe(), min_agreement=99.9,
                   test_parity=ParityLimits(99.9, 1e-4, 1e-5)),
    TFLiteExporter(name="fp16", precision="fp16", suffix="_fp16.tflite", summary="fp16 weights",
                   recipe=_Recipe(optimize=True, float16=True), min_agreement=99.5,
                   test_parity=ParityLimits(99.9, 0.003, 3e-4)),
    TFLiteExporter(name="dynamic", precision="dynamic_int8", suffix="_dynamic_int8.tflite",
                   summary="int8 weights, float I/O", recipe=_Recipe(optimize=True), quantized=True,
                   test_parity=ParityLimits(99.0, 0.03, 0.0035)),
    TFLiteExporter(name="int8", precision="int8", suffix="_int8.tflite", summary="full integer",
                   recipe=_Recipe(optimize=True, ops="int8", integer_io=True), needs_calibration=True,
                   quantized=True, guard_strategy="edgeseg.export.guard_tflite:tflite_candidates",
                   test_parity=ParityLimits(96.5, 0.05, 0.008)),
    TFLiteExporter(name="int16x8", precision="int16x8", suffix="_int16x8.tflite", summary="int16 activations",
                   recipe=_Recipe(optimize=True, ops="int16x8"), needs_calibration=True, quantized=True,
                   test_parity=ParityLimits(98.8, 0.02, 0.0035)),
)
