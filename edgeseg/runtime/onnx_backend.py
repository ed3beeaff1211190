"""ONNX Runtime backend: chosen execution providers, thread count, graph optimisation level."""

from __future__ import annotations

import json
import logging
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.errors import RuntimeBackendError, UsageError, one_line
from edgeseg.runtime.base import Backend, TensorInfo

log = logging.getLogger(__name__)

PROVIDERS = {
    "cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider", "coreml": "CoreMLExecutionProvider",
    "nnapi": "NnapiExecutionProvider", "qnn": "QNNExecutionProvider", "xnnpack": "XnnpackExecutionProvider",
    "dml": "DmlExecutionProvider",
}
GRAPH_OPT = ("disable", "basic", "extended", "all")
_ORT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(uint8)": "uint8",
              "tensor(int8)": "int8", "tensor(int32)": "int32", "tensor(int64)": "int64"}


def provider_names(spec: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """``"cuda,cpu"`` / short or full names -> full ONNX Runtime provider names (CPU last if absent)."""
    items = spec.split(",") if isinstance(spec, str) else list(spec or ["cpu"])
    names = [PROVIDERS.get(s.strip().lower(), s.strip()) for s in items if s.strip()]
    if "CPUExecutionProvider" not in names:
        names.append("CPUExecutionProvider")
    return names


class OnnxRuntimeBackend(Backend):
    """``onnxruntime.InferenceSession`` bound with I/O binding, so ``invoke`` times only the run.

    Quantised ONNX graphs (QDQ) keep float32 I/O, so there is nothing to (de)quantise here."""

    name = "onnxruntime"
    formats = ("onnx",)
    extra = "onnxruntime"
    OPTIONS = {"providers": "comma list: cpu, cuda, openvino, coreml, nnapi, qnn, ... (default cpu)",
               "graph_opt": "graph optimisation level: disable, basic, extended, all (default all)"}

    engine_module = "onnxruntime"

    def __init__(self, path: str | Path, threads: int | None = None, **options: Any) -> None:
        super().__init__(path, threads, **options)
        import onnxruntime as ort

        self.providers = provider_names(options.get("providers"))
        missing = [p for p in self.providers if p not in ort.get_available_providers()]
        if missing:
            raise RuntimeBackendError(f"ONNX Runtime provider {missing[0]} is not available here "
                                      f"(available: {', '.join(ort.get_available_providers())})")
        level = str(options.get("graph_opt", "all")).lower()
        if level not in GRAPH_OPT:
            raise UsageError(f"graph_opt must be one of {', '.join(GRAPH_OPT)}, got {level!r}")
        self.graph_opt = level
        so = ort.SessionOptions()
        so.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL, "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[level]
        if threads:
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            so.add_session_config_entry("session.intra_op.allow_spinning", "1")
        so.log_severity_level = 3
        self._so = so
        try:
            self._sess = ort.InferenceSession(str(self.path), sess_options=so, providers=self.providers)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types
            from edgeseg.errors import ModelError

            raise ModelError(f"{self.path}: ONNX Runtime cannot load the model ({one_line(exc, 300)})") from None
        ins, outs = self._sess.get_inputs(), self._sess.get_outputs()
        if len(ins) != 1 or not outs:
            raise RuntimeBackendError(f"{self.path}: expected one image input, found {len(ins)} inputs")
        self._in_name, self._out_name = ins[0].name, outs[0].name
        self._input_info = _info(ins[0])
        self._output_info = _info(outs[0])
        self._binding = self._sess.io_binding()

    @classmethod
    def engine_version(cls) -> str | None:
        try:
            return metadata.version("onnxruntime")
        except metadata.PackageNotFoundError:
            try:
                return metadata.version("onnxruntime-gpu")
            except metadata.PackageNotFoundError:
                return None

    def set_input(self, x: np.ndarray) -> None:
        self._x = np.ascontiguousarray(x)  # keep alive: the binding points at its memory
        self._binding.bind_cpu_input(self._in_name, self._x)
        self._binding.bind_output(self._out_name, "cpu")

    def invoke(self) -> None:
        try:
            self._sess.run_with_iobinding(self._binding)
        except Exception as exc:
            raise RuntimeBackendError(f"{self.path}: ONNX Runtime run failed ({one_line(exc, 300)})") from None

    def get_output(self) -> np.ndarray:
        return self._binding.copy_outputs_to_cpu()[0]

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["options"].update(providers=self._sess.get_providers(), graph_opt=self.graph_opt)
        return d

    def delegated_ops(self) -> dict[str, Any] | None:
        """Only meaningful with a non-CPU provider first; then nodes per provider when ORT reports them."""
        if self.providers[0] == "CPUExecutionProvider":
            return None
        try:
            info = self._sess.get_provider_graph_assignment_info()
        except Exception:  # not supported by this build/provider
            return {"delegate": self.providers[0], "delegated": None, "total": None}
        return {"delegate": self.providers[0], "assignment": str(info)[:2000]}

    def profile(self, x: np.ndarray, runs: int = 10) -> list[dict[str, Any]] | None:
        """Per-node kernel times from ONNX Runtime's profiler (a separate profiling session)."""
        import onnxruntime as ort

        with tempfile.TemporaryDirectory() as tmp:
            so = ort.SessionOptions()
            so.graph_optimization_level = self._so.graph_optimization_level
            so.intra_op_num_threads = self._so.intra_op_num_threads
            so.enable_profiling = True
            so.profile_file_prefix = str(Path(tmp) / "ort")
            sess = ort.InferenceSession(str(self.path), sess_options=so, providers=self.providers)
            for _ in range(runs):
                sess.run(None, {self._in_name: x})
            events = json.loads(Path(sess.end_profiling()).read_text())
        totals: dict[str, dict[str, Any]] = {}
        for e in events:
            if e.get("cat") == "Node" and str(e.get("name", "")).endswith("_kernel_time"):
                op = e["name"][: -len("_kernel_time")]
                t = totals.setdefault(op, {"op": op, "type": e.get("args", {}).get("op_name"), "ms": 0.0})
                t["ms"] += e.get("dur", 0) / 1000.0 / runs
        return sorted(totals.values(), key=lambda r: -r["ms"])

    def close(self) -> None:
        self._sess = None  # type: ignore[assignment]


def _info(node: Any) -> TensorInfo:
    shape = tuple(int(d) if isinstance(d, int) else -1 for d in node.shape)
    return TensorInfo(node.name, shape, _ORT_TYPES.get(node.type, "float32"))
