"""Deployability lint: what in a Keras model will not run well on TFLite builtins, XNNPACK or the GPU delegate."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgeseg.export.lint_gpu import GPU_SUPPORTED, gpu_gaps  # GPU_SUPPORTED re-exported

log = logging.getLogger(__name__)

#: Known XNNPACK gaps for quantised (int8) graphs, each measured by converting a model to int8 and
#: counting the nodes XNNPACK leaves to the builtin kernels with the runtime's ``delegated_ops()``
#: (ai-edge-litert 2.3, TF 2.21; tests/export/test_lint.py::test_prelu_int8_gap_is_real re-measures it):
#: - PReLU: a Conv -> PReLU -> Conv model (32x32) in int8: the 1 PRELU node falls back, the graph is cut
#:   into 2 XNNPACK partitions (fp32: all nodes delegated). ENet (prelu, 360x480) int8: see docs/convert.md.
#: - nearest resize: ENet with nearest unpooling in int8 left RESIZE_NEAREST_NEIGHBOR to the builtin kernels.
XNNPACK_INT8_GAPS = {
    "PReLU": "XNNPACK takes PRELU only in fp32 (int8 PRELU runs on the builtin kernel and splits the "
             "XNNPACK graph) -> use ReLU (ENet: --model-option activation=relu)",
    "nearest": "XNNPACK leaves int8 RESIZE_NEAREST_NEIGHBOR (and ops isolated around it) to the builtin "
               "kernels (measured on ENet's nearest unpooling) -> use bilinear interpolation",
}
#: Layer names shown per grouped finding before "...".
SHOWN_LAYERS = 3

@dataclass(frozen=True)
class Finding:
    """One lint result."""

    severity: str  # error | warning | info
    layer: str
    issue: str
    fix: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready dict."""
        return asdict(self)


def group_findings(findings: list[Finding]) -> list[dict[str, Any]]:
    """Findings of the same rule (severity, issue, fix) merged: one entry with the count and the layers.

    Returns:
        Dicts ``severity, issue, fix, count, layers`` in first-seen order.
    """
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for f in findings:
        g = groups.setdefault((f.severity, f.issue, f.fix), {"severity": f.severity, "issue": f.issue,
                                                               "fix": f.fix, "count": 0, "layers": []})
        g["count"] += 1
        g["layers"].append(f.layer)
    return list(groups.values())


def describe_group(g: dict[str, Any], shown: int = SHOWN_LAYERS) -> str:
    """One line: ``PReLU in int8 (31 layers: a, b, c, ...): why -> fix``."""
    names = ", ".join(g["layers"][:shown]) + (", ..." if g["count"] > shown else "")
    where = f"{g['count']} layers: {names}" if g["count"] > 1 else names
    return f"{g['issue']} ({where}): {g['fix']}"


def _inbound_count(layer: Any) -> int:
    try:
        ins = layer.input
    except (AttributeError, ValueError):
        return 0
    return len(ins) if isinstance(ins, (list, tuple)) else 1


def _layers(model: Any) -> list[Any]:
    out = []
    for layer in model.layers:
        out.append(layer)
        if hasattr(layer, "layers") and layer is not model:
            out.extend(_layers(layer))
    return out


def lint_layers(model: Any) -> list[Finding]:
    """Layer-level findings with the layer name and a suggested fix (no conversion needed).

    ``model`` is a tf_keras or Keras 3 model (Keras 3 and keras-hub classes count as builtin); ``None`` (a
    SavedModel has no layers) gives no findings.
    """
    if model is None:
        return []
    from edgeseg.export.safety import known_layer_classes

    known = known_layer_classes() | _keras3_classes(model)
    found: list[Finding] = []
    for layer in _layers(model):
        cls, name = type(layer).__name__, layer.name
        cfg = layer.get_config() if hasattr(layer, "get_config") else {}
        if cls == "Lambda":
            found.append(Finding("error", name, "Lambda layer: stores Python code, may not convert to builtins",
                                 "replace with builtin layers (e.g. Activation, Softmax, Resizing)"))
        elif cls not in known:
            found.append(Finding("warning", name, f"custom layer class {cls}",
                                 "use builtin Keras layers so the .h5 loads and converts without custom code"))
        if cls == "TFOpLambda" and "argmax" in str(cfg.get("function", "")).lower() and "pool" in \
                str(cfg.get("function", "")).lower():
            found.append(Finding("error", name, "argmax pooling (max_pool_with_argmax) is not a TFLite builtin",
                                 "use MaxPooling2D and upsample with UpSampling2D/Conv2DTranspose"))
        if cls == "Concatenate" and _inbound_count(layer) > 4:
            found.append(Finding("warning", name, f"concatenation of {_inbound_count(layer)} inputs",
                                 "XNNPACK takes at most 4 inputs per CONCATENATION; nest concatenations of <= 4"))
        if cls == "PReLU":
            found.append(Finding("warning", name, "PReLU in int8", XNNPACK_INT8_GAPS["PReLU"]))
        if cls in ("UpSampling2D", "Resizing") and cfg.get("interpolation") == "nearest":
            found.append(Finding("warning", name, "nearest-neighbour resize in int8", XNNPACK_INT8_GAPS["nearest"]))
    return found


def _keras3_classes(model: Any) -> set[str]:
    """Class names of the model's layers that come from Keras 3 or keras-hub (a Keras 3 model)."""
    return {type(layer).__name__ for layer in _layers(model)
            if type(layer).__module__.split(".")[0] in ("keras", "keras_hub")}


def lint_graph(ops: list[str], fallback: dict[str, int] | None, precision: str,
               gpu: dict[str, str] | None = None) -> list[Finding]:
    """Graph-level findings from a converted .tflite: custom ops, GPU-refused ops, XNNPACK fallback.

    ``gpu`` is :func:`edgeseg.export.lint_gpu.gpu_gaps` of the file (op types, versions, fp16 weights);
    without it only op types are checked against ``GPU_SUPPORTED``.
    """
    found = [Finding("error", op, f"{op} is not a TFLite builtin ({precision})",
                     "replace the layer producing it; the runtime would need Flex/custom kernels")
             for op in ops if op.startswith("CUSTOM:")]
    if gpu is None:
        gpu = {op: "not in the GPU delegate's op list" for op in ops
               if not op.startswith("CUSTOM:") and op not in GPU_SUPPORTED}
    if gpu:
        found.append(Finding("warning", ", ".join(gpu), f"GPU delegate does not take these ops ({precision}): "
                             + "; ".join(f"{op}: {why}" for op, why in gpu.items()),
                             "they run on the CPU, and the GPU takes one partition, so ops cut off by them run "
                             "on the CPU too (a TRANSPOSE_CONV followed by BatchNorm/ReLU gets the ReLU fused in: "
                             "upsample with a resize + conv instead, ENet: --model-option upconv=resize)"))
    for op, n in sorted((fallback or {}).items()):
        found.append(Finding("warning", op, f"XNNPACK leaves {n} {op} node(s) to the builtin kernels ({precision})",
                             "these run unaccelerated; replace the layer if it is on the hot path"))
    return found


def lint_model(model: Any, input_size: tuple[int, int] | None = None) -> dict[str, Any]:
    """Layer lint plus an fp32 TFLite conversion: ops, non-builtins, GPU gaps, XNNPACK fallback.

    ``model`` is a :class:`~edgeseg.export.sources.ModelSource` (any kind) or a loaded tf_keras model.
    """
    from edgeseg import runtime
    from edgeseg.core.fileio import write_bytes_atomic
    from edgeseg.export.graph import build_graph
    from edgeseg.export.sources import ModelSource, from_keras
    from edgeseg.export.tflite import converter_for
    from edgeseg.runtime.tflite_reader import op_counts

    source = model if isinstance(model, ModelSource) else from_keras(model)
    findings = lint_layers(source.model)
    shape = source.input_shape
    if shape[0] is None or shape[1] is None:
        findings.append(Finding("info", "input", f"dynamic input shape {(None, *shape)}",
                                "convert fixes it (batch 1, --input-size HxW or the manifest's size)"))
    size = input_size or source.static_size or (256, 256)
    try:
        buf = converter_for(build_graph(source, size, "logits")).convert()
    except Exception as exc:  # conversion failure is itself the finding
        findings.append(Finding("error", source.name, f"fp32 TFLite conversion fails: {str(exc).splitlines()[0]}",
                                "run `edgeseg lint -v` and replace the layer named in the converter error"))
        return {"findings": [f.to_dict() for f in findings], "ops": {}, "xnnpack": None}
    counts = op_counts(buf)
    with tempfile.TemporaryDirectory(prefix="edgeseg-lint-") as work:
        path = Path(work) / "lint_fp32.tflite"
        write_bytes_atomic(path, buf)
        with runtime.load(path) as be:
            xnn = be.delegated_ops()
    findings += lint_graph(list(counts), (xnn or {}).get("fallback"), "fp32", gpu_gaps(buf))
    return {"findings": [f.to_dict() for f in findings], "ops": counts, "xnnpack": xnn,
            "input_size": list(size)}
