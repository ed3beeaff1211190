"""LiteRT ``CompiledModel`` backend (ai_edge_litert.compiled_model): CPU, GPU or NPU accelerator."""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.core.native_log import native_stderr
from edgeseg.errors import RuntimeBackendError, UsageError, one_line
from edgeseg.runtime.base import Backend, TensorInfo
from edgeseg.runtime.litert_backend import litert_version
from edgeseg.runtime.tflite_check import verify_tflite

log = logging.getLogger(__name__)

ACCELERATORS = ("cpu", "gpu", "npu")


class LiteRTCompiledBackend(Backend):
    """The LiteRT 2 API. ``accelerator`` is ``cpu`` (XNNPACK), ``gpu`` or ``npu``; GPU and NPU
    keep the CPU as fallback for unsupported ops unless ``fallback=False``. A machine without
    the accelerator gives a one-line :class:`RuntimeBackendError`.

    Quantisation parameters come from the flatbuffer (the CompiledModel API does not report
    them), read through the Interpreter's tensor details at load time.
    """

    name = "litert-compiled"
    formats = ("tflite",)
    extra = "litert"
    OPTIONS = {"accelerator": "cpu, gpu or npu (default cpu)",
               "fallback": "let the CPU run ops the GPU/NPU cannot (default on)",
               "dispatch": "NPU dispatch library (libLiteRtDispatch_*.so) or its folder (accelerator npu)"}

    def __init__(self, path: str | Path, threads: int | None = None, **options: Any) -> None:
        super().__init__(path, threads, **options)
        self.summary = verify_tflite(self.path)
        from ai_edge_litert.compiled_model import CompiledModel
        from ai_edge_litert.hardware_accelerator import HardwareAccelerator
        from ai_edge_litert.options import CpuOptions, Options

        self.accelerator = str(options.get("accelerator", "cpu")).lower()
        if self.accelerator not in ACCELERATORS:
            raise UsageError(f"accelerator must be one of {', '.join(ACCELERATORS)}, got {self.accelerator!r}")
        if self.accelerator == "npu" and not options.get("dispatch"):
            # Without a vendor dispatch library LiteRT compiles for the CPU fallback and still reports
            # "fully accelerated": refuse rather than publish CPU numbers as NPU numbers.
            raise RuntimeBackendError(f"{self.path}: --accelerator npu: {_NEEDS['npu']}")
        accel = {"cpu": HardwareAccelerator.CPU, "gpu": HardwareAccelerator.GPU,
                 "npu": HardwareAccelerator.NPU}[self.accelerator]
        if self.accelerator != "cpu" and options.get("fallback", True):
            accel |= HardwareAccelerator.CPU
        opts = Options(hardware_accelerators=accel, cpu_options=CpuOptions(num_threads=threads or 0))
        self.dispatch = options.get("dispatch")
        env = _environment(self.dispatch, self.accelerator)
        if self.accelerator == "gpu" and "tensorflow" in sys.modules:
            raise RuntimeBackendError(f"{self.path}: --accelerator gpu: {_WITH_TF}")
        # the GPU accelerator logs on fd 2 and fd 1 (its OpenCL probe), which must stay clean for `--json -`
        with native_stderr("LiteRT") as native, native_stderr("LiteRT stdout", fd=1) as native_out:
            try:
                self._cm = CompiledModel.from_file(str(self.path), options=opts,
                                                   **({"environment": env} if env else {}))
            except (RuntimeError, ValueError) as exc:
                raise RuntimeBackendError(_compile_error(self.path, self.accelerator, exc)) from None
        self._compile_log = native.text + native_out.text
        sigs = self._cm.get_signature_list()
        self._sig = next(iter(sigs)) if sigs else "serving_default"
        ins = self._cm.get_input_tensor_details(self._sig)
        outs = self._cm.get_output_tensor_details(self._sig)
        if len(ins) != 1 or not outs:
            raise RuntimeBackendError(f"{self.path}: expected one image input, found {len(ins)} inputs")
        quant = _quant_params(self.path)
        (in_key, in_d), (out_key, out_d) = next(iter(ins.items())), next(iter(outs.items()))
        self._input_info = _info(in_d, quant)
        self._output_info = _info(out_d, quant)
        with native_stderr("LiteRT"):  # the first buffer write creates LiteRT's environment, which logs
            self._in_buf = self._cm.create_input_buffers(0)
            self._out_buf = self._cm.create_output_buffers(0)
            self._in_buf[0].write(np.zeros(tuple(int(v) for v in in_d["shape"]), np.dtype(in_d["dtype"])))
        self._out_dtype = np.dtype(out_d["dtype"])
        self._out_shape = tuple(int(v) for v in out_d["shape"])
        self._out_n = int(np.prod(self._out_shape))
        self._read: np.ndarray | None = None

    @classmethod
    def engine_version(cls) -> str | None:
        return litert_version()

    def set_input(self, x: np.ndarray) -> None:
        self._in_buf[0].write(np.ascontiguousarray(x))

    def invoke(self) -> None:
        """One run. On the GPU it includes reading the output back: a GPU run may return once the work is
        queued (a fully placed 16x16 conv: 0.02 ms "run", then 0.3-0.9 ms waiting in the read, even with
        ``GpuOptions.hint_waiting_for_completion``), so without the read the latency would be the submission's.
        TFLite's GPU delegate likewise copies its outputs to the CPU inside ``Invoke``."""
        try:
            self._cm.run_by_index(0, self._in_buf, self._out_buf)
        except RuntimeError as exc:
            raise RuntimeBackendError(f"{self.path}: LiteRT CompiledModel run failed ({one_line(exc, 300)}); "
                                      "a dynamic-shape output (e.g. TRANSPOSE_CONV exported with a free batch "
                                      "axis) cannot be bound: export with a fixed batch of 1") from None
        self._read = self._read_output() if self.accelerator == "gpu" else None

    def _read_output(self) -> np.ndarray:
        return self._out_buf[0].read(self._out_n, self._out_dtype).reshape(self._out_shape)

    def get_output(self) -> np.ndarray:
        return self._read if self._read is not None else self._read_output()

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["options"]["accelerator"] = self.accelerator
        if self.dispatch:
            d["options"]["dispatch"] = str(self.dispatch)
        return d

    def delegated_ops(self) -> dict[str, Any] | None:
        """Placement of the compiled graph. On the GPU it is counted from the delegate's partition log
        (:mod:`edgeseg.runtime.gpu_log`): ``delegated`` ops on the GPU, ``cpu`` on the fallback, the ops the
        delegate refused with its reason (``unsupported``). ``fully_accelerated`` is what LiteRT's
        ``is_fully_accelerated()`` says, which is True on the GPU even with ops on the CPU fallback. On the
        CPU/NPU only that flag is known (``fallback`` ``None`` unless it says all)."""
        full = bool(self._cm.is_fully_accelerated())
        total = self.summary.operators
        if self.accelerator == "gpu":
            from edgeseg.runtime.gpu_log import placement

            return {"delegate": "GPU", **placement(self._compile_log, total), "fully_accelerated": full,
                    "fallback": None, "source": "LiteRT GPU delegate partition log"}
        return {"delegate": self.accelerator.upper(), "delegated": total if full else None, "total": total,
                "fully_accelerated": full, "fallback": {} if full else None}

    def device(self) -> dict[str, Any] | None:
        """The adapter that ran the model (GPU: name, vendor, driver, ``software``); ``None`` on the CPU."""
        if self.accelerator == "gpu":
            return _gpu_device(self._compile_log)
        if self.accelerator == "npu":
            return {"name": Path(str(self.dispatch)).name, "vendor": None, "software": None,
                    "source": "NPU dispatch library"}
        return None

    def close(self) -> None:
        with native_stderr("LiteRT"):  # releasing the last model tears the environment down, which logs
            self._in_buf = self._out_buf = []
            self._cm = None  # type: ignore[assignment]
            gc.collect()


#: What each accelerator needs, for the one-line error when it cannot start.
_NEEDS = {"gpu": "no usable GPU here: LiteRT's GPU accelerator (WebGPU/Vulkan, OpenCL or Metal) found no device "
                 "or driver",
          "npu": "no usable NPU here: LiteRT needs the vendor's dispatch library (--npu-dispatch PATH.so) and "
                 "its device"}


#: Creating a GPU CompiledModel after ``import tensorflow`` segfaults (Mesa's LLVM-based Vulkan driver beside
#: TensorFlow's); the other order works.
_WITH_TF = ("TensorFlow is loaded in this process and LiteRT's GPU accelerator crashes beside it: run the GPU in "
            "a process without TensorFlow (edgeseg bench does, unless --no-isolate mixes it with keras)")


def _compile_error(path: Path, accelerator: str, exc: BaseException) -> str:
    if accelerator == "cpu":
        return f"{path}: LiteRT CompiledModel cannot compile the model: {one_line(exc, 300)}"
    msg = f"{path}: --accelerator {accelerator}: {_NEEDS[accelerator]}"
    if accelerator == "gpu":
        from edgeseg.runtime import vulkan

        msg += f"; Vulkan: {vulkan.summary()}"
    return f"{msg} ({one_line(exc, 160)})"


def _gpu_device(log_text: str) -> dict[str, Any]:
    """The adapter LiteRT logged (first GPU compile of a process) joined with the Vulkan probe's record of it."""
    from edgeseg.runtime import vulkan
    from edgeseg.runtime.gpu_log import adapter

    devs = list(vulkan.devices(in_process=True))  # LiteRT has loaded the driver into this process already
    logged = adapter(log_text)
    if logged is not None:
        probed = next((d for d in devs if d["name"] == logged["name"]), {})
        return {**probed, **logged, "software": bool(logged["software"] or probed.get("software")),
                "source": "LiteRT log" + (" + Vulkan probe" if probed else "")}
    if len(devs) == 1:
        return {**devs[0], "source": "Vulkan probe (the only Vulkan device)"}
    return {"name": None, "vendor": None, "software": None, "candidates": devs,
            "source": "not logged by LiteRT; Vulkan devices listed"}


def _environment(dispatch: str | None, accelerator: str) -> Any:
    """A LiteRT Environment carrying the NPU dispatch library folder, or ``None`` for the default."""
    if not dispatch:
        return None
    if accelerator != "npu":
        raise UsageError("an NPU dispatch library needs --accelerator npu")
    from ai_edge_litert.environment import Environment

    from edgeseg.runtime.delegates import dispatch_dir

    folder = dispatch_dir(dispatch)
    try:
        return Environment.create(dispatch_library_path=folder)
    except (RuntimeError, ValueError) as exc:
        raise RuntimeBackendError(f"NPU dispatch library {dispatch}: LiteRT cannot use it ({one_line(exc, 300)})") \
            from None


def _quant_params(path: Path) -> dict[str, tuple[float, int]]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_path=str(path),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    out = {}
    for d in it.get_input_details() + it.get_output_details():
        out[d["name"]] = d["quantization"]
    return out


def _info(d: dict[str, Any], quant: dict[str, tuple[float, int]]) -> TensorInfo:
    scale, zp = quant.get(d["name"], (0.0, 0))
    return TensorInfo(d["name"], tuple(int(v) for v in d["shape"]), np.dtype(d["dtype"]).name,
                      float(scale) if scale else None, int(zp) if scale else None)
