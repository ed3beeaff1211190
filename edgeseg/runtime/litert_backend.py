"""LiteRT ``Interpreter`` backend (ai_edge_litert.interpreter), XNNPACK on or off, N threads."""

from __future__ import annotations

import logging
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.core.native_log import native_stderr
from edgeseg.errors import RuntimeBackendError, UsageError, one_line
from edgeseg.runtime.base import Backend, TensorInfo
from edgeseg.runtime.tflite_check import verify_tflite

log = logging.getLogger(__name__)


def litert_version() -> str | None:
    """Installed ai-edge-litert version, or ``None``."""
    try:
        return metadata.version("ai-edge-litert")
    except metadata.PackageNotFoundError:
        return None


def tensor_info(d: dict[str, Any]) -> TensorInfo:
    """TensorInfo from an interpreter/signature tensor-details dict."""
    scale, zp = d.get("quantization", (0.0, 0))
    sig = d.get("shape_signature")
    shape = tuple(int(v) for v in (sig if sig is not None and len(sig) else d["shape"]))
    dtype = np.dtype(d["dtype"]).name
    return TensorInfo(d["name"], shape, dtype, float(scale) if scale else None, int(zp) if scale else None)


class LiteRTInterpreterBackend(Backend):
    """The classic TFLite interpreter. ``xnnpack=False`` uses the builtin kernels only
    (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``); by default XNNPACK is applied as TFLite's default
    delegate, and :meth:`delegated_ops` reports which nodes it took."""

    name = "litert"
    formats = ("tflite",)
    extra = "litert"
    OPTIONS = {"xnnpack": "apply the XNNPACK default delegate (default: on)",
               "delegate": "path of an external TFLite delegate .so (EdgeTPU, Hexagon, Arm NN, vendor NPU)",
               "delegate_options": "options of the external delegate, {key: value} strings"}

    engine_module = "ai_edge_litert.interpreter"

    def __init__(self, path: str | Path, threads: int | None = None, **options: Any) -> None:
        super().__init__(path, threads, **options)
        self.summary = verify_tflite(self.path)  # never hand a corrupt flatbuffer to native code
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self.xnnpack = bool(options.get("xnnpack", True))
        resolver = OpResolverType.AUTO if self.xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        self.delegate = options.get("delegate")
        delegates = []
        if self.delegate:
            from edgeseg.runtime.delegates import load_external_delegate

            delegates.append(load_external_delegate(self.delegate, options.get("delegate_options")))
        elif options.get("delegate_options"):
            raise UsageError("delegate options need a delegate library (--delegate PATH.so)")
        try:  # LiteRT logs INFO lines ("Created ... XNNPACK delegate") on fd 2: to logging instead
            with native_stderr("litert"):
                self._it = Interpreter(model_path=str(self.path), num_threads=threads,
                                       experimental_op_resolver_type=resolver,
                                       experimental_delegates=delegates or None)
                self._it.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise RuntimeBackendError(f"{self.path}: LiteRT cannot load the model ({one_line(exc, 300)})") from None
        ins, outs = self._it.get_input_details(), self._it.get_output_details()
        if len(ins) != 1 or not outs:
            raise RuntimeBackendError(f"{self.path}: expected one image input, found {len(ins)} inputs")
        self._in = ins[0]
        self._out = outs[0]
        self._input_info = tensor_info(self._in)
        self._output_info = tensor_info(self._out)

    @classmethod
    def engine_version(cls) -> str | None:
        return litert_version()

    def set_input(self, x: np.ndarray) -> None:
        self._it.set_tensor(self._in["index"], x)

    def invoke(self) -> None:
        try:
            self._it.invoke()
        except RuntimeError as exc:
            raise RuntimeBackendError(f"{self.path}: LiteRT invoke failed ({one_line(exc, 300)})") from None

    def get_output(self) -> np.ndarray:
        return self._it.get_tensor(self._out["index"])

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["options"]["xnnpack"] = self.xnnpack
        return d

    def delegated_ops(self) -> dict[str, Any] | None:
        """Nodes replaced by delegate kernels, counted from the interpreter's node list.

        Applying a delegate appends one ``DELEGATE`` node per partition and keeps the original
        nodes in the list (out of the execution plan). A partition's members are recovered by
        walking back from the delegate node's outputs through producing nodes until reaching
        the delegate node's inputs; tensors produced outside the partition are always its
        inputs, so the walk never leaves it.
        """
        nodes = self._it._get_ops_details()  # pylint: disable=protected-access
        delegates = [n for n in nodes if n["op_name"] == "DELEGATE"]
        original = [n for n in nodes if n["op_name"] != "DELEGATE"]
        producer = {int(t): n["index"] for n in original for t in n["outputs"] if t >= 0}
        by_index = {n["index"]: n for n in original}
        taken: set[int] = set()
        for d in delegates:
            boundary = {int(t) for t in d["inputs"]}
            stack = [int(t) for t in d["outputs"]]
            while stack:
                t = stack.pop()
                if t in boundary or t not in producer or producer[t] in taken:
                    continue
                node = by_index[producer[t]]
                taken.add(node["index"])
                stack.extend(int(i) for i in node["inputs"] if i >= 0)
        fallback: dict[str, int] = {}
        for n in original:
            if n["index"] not in taken:
                fallback[n["op_name"]] = fallback.get(n["op_name"], 0) + 1
        name = Path(self.delegate).name if self.delegate else ("XNNPACK" if self.xnnpack else None)
        return {"delegate": name, "delegated": len(taken), "total": len(original),
                "partitions": len(delegates), "fallback": fallback}

    def close(self) -> None:
        self._it = None  # type: ignore[assignment]

