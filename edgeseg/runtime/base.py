"""The one runtime interface: load an artifact, describe its I/O, run preprocessed batches."""

from __future__ import annotations

import abc
import importlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.core.metrics import class_map


@dataclass(frozen=True)
class TensorInfo:
    """One input or output tensor as the engine sees it.

    Attributes:
        name: Tensor name in the graph.
        shape: Static shape, NHWC for images (``-1``/``None`` entries only for a free batch axis).
        dtype: numpy dtype name (``float32``, ``float16``, ``uint8``, ``int8``, ...).
        scale: Quantisation scale, ``None`` for float tensors.
        zero_point: Quantisation zero point, ``None`` for float tensors.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float | None = None
    zero_point: int | None = None

    @property
    def quantized(self) -> bool:
        """Whether values are affine-quantised integers."""
        return self.scale is not None and self.scale != 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["shape"] = list(self.shape)
        return d


class Backend(abc.ABC):
    """An inference engine holding one loaded model.

    ``run`` takes float32 NHWC input already preprocessed by :mod:`edgeseg.core.preprocess`
    (the manifest's recipe) and returns float32 logits ``(N, H, W, C)`` -- or, for an
    argmax-head model, integer class maps ``(N, H, W)``. Quantisation of inputs and
    dequantisation of outputs happen inside the backend. ``run_raw`` feeds the engine's own
    dtype unchanged (what latency measurement times).
    """

    #: Registry name, e.g. ``litert``, ``litert-compiled``, ``onnxruntime``, ``keras``.
    name: str = ""
    #: File formats (as :func:`edgeseg.core.fileio.sniff_model_format` names them) it loads.
    formats: tuple[str, ...] = ()
    #: Keyword options the backend accepts (name -> one-line help); anything else is a UsageError.
    OPTIONS: dict[str, str] = {}
    #: The ``pip install 'edgeseg[<extra>]'`` extra that installs the engine (named when it is missing).
    extra: str = "device"

    def __init__(self, path: str | Path, threads: int | None = None, **options: Any) -> None:
        self.path = Path(path)
        self.threads = threads
        self.options = options
        #: The sidecar manifest, set by :func:`edgeseg.runtime.load` when one exists.
        self.manifest: Any = None
        self._staged: np.ndarray | None = None
        self._result: np.ndarray | None = None

    #: The engine's Python module (imported by :meth:`preload`).
    engine_module: str | None = None

    @classmethod
    def engine_version(cls) -> str | None:
        """Version of the underlying engine package, or ``None`` if it is not installed."""
        return None

    @classmethod
    def preload(cls) -> None:
        """Import the engine now. A Ctrl-C that lands inside a native extension's initialisation reaches
        Python as ``ImportError: initialization failed``, not ``KeyboardInterrupt``: long jobs (convert's
        export loop) import their engines before the work that a user may interrupt."""
        if cls.engine_module:
            try:
                importlib.import_module(cls.engine_module)
            except ImportError:  # not installed: loading reports it in one line when it is needed
                pass

    def describe(self) -> dict[str, Any]:
        """JSON-ready description: runtime, engine version, threads, options, I/O."""
        return {
            "runtime": self.name,
            "engine_version": self.engine_version(),
            "threads": self.threads,
            "options": {k: v for k, v in self.options.items() if v is not None},
            "input": self.input.to_dict(),
            "output": self.output.to_dict(),
        }

    @property
    def input_size(self) -> tuple[int, int]:
        """Model input ``(height, width)``."""
        shape = self.input.shape
        return int(shape[1]), int(shape[2])

    # -- the three steps latency measurement times separately (run_raw = all three) ----------
    def set_input(self, x: np.ndarray) -> None:
        """Stage one raw input (engine dtype) for :meth:`invoke`."""
        self._staged = x

    def invoke(self) -> None:
        """Run the model on the staged input (what benchmark_model times)."""
        if self._staged is None:
            raise RuntimeError("set_input() before invoke()")
        self._result = self.run_raw(self._staged)

    def get_output(self) -> np.ndarray:
        """Raw output of the last :meth:`invoke` (a copy the caller may keep)."""
        if self._result is None:
            raise RuntimeError("invoke() before get_output()")
        return self._result

    def profile(self, x: np.ndarray, runs: int = 10) -> list[dict[str, Any]] | None:
        """Per-op timings ``[{"op", "type", "ms"}]`` (mean over ``runs``), or ``None`` if unsupported."""
        return None

    #: Set by each backend's constructor once the engine has loaded the model.
    _input_info: TensorInfo
    _output_info: TensorInfo

    @property
    def input(self) -> TensorInfo:
        """The image input."""
        return self._input_info

    @property
    def output(self) -> TensorInfo:
        """The logits / class-map output."""
        return self._output_info

    def run_raw(self, x: np.ndarray) -> np.ndarray:
        """Invoke once on an array of the input's dtype and shape; return the raw output."""
        self.set_input(x)
        self.invoke()
        return self.get_output()

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Preprocessed float32 NHWC batch -> float32 logits (or integer class map)."""
        x = np.asarray(batch, dtype=np.float32)
        if x.ndim == 3:
            x = x[None]
        outs = [self._decode(self.run_raw(self._encode(x[i:i + 1]))) for i in range(x.shape[0])]
        return np.concatenate(outs, axis=0)

    def _encode(self, x: np.ndarray) -> np.ndarray:
        from edgeseg.core.preprocess import quantize

        info = self.input
        if info.quantized:
            return quantize(x, info.scale, info.zero_point, np.dtype(info.dtype))  # type: ignore[arg-type]
        return x.astype(info.dtype, copy=False)

    def _decode(self, y: np.ndarray) -> np.ndarray:
        from edgeseg.core.preprocess import dequantize

        info = self.output
        if info.quantized and len(info.shape) == 4:
            return dequantize(y, info.scale, info.zero_point)  # type: ignore[arg-type]
        if np.issubdtype(y.dtype, np.floating):
            return y.astype(np.float32, copy=False)
        return y

    def predict_labels(self, batch: np.ndarray) -> np.ndarray:
        """Class map ``(N, H, W)`` for a preprocessed batch (argmax of logits if needed)."""
        return class_map(self.run(batch))

    def delegated_ops(self) -> dict[str, Any] | None:
        """Share of ops taken by the accelerator/delegate (``{"delegated", "total", "fallback"}``), if known."""
        return None

    def device(self) -> dict[str, Any] | None:
        """The accelerator that ran the model (``name, vendor, software, ...``); ``None`` for the host CPU."""
        return None

    def close(self) -> None:
        """Release the engine."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
