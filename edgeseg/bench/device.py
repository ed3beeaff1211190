"""Which device ran a bench result, how rows name it, and the GPU jobs a matrix adds when a Vulkan device exists."""

from __future__ import annotations

import dataclasses
from typing import Any

#: Printed under tables and stored beside latencies that come from a software (CPU-emulated) GPU.
SOFTWARE_NOTE = ("measured on a software GPU device ({name}): the GPU code path ran, emulated on the CPU; its "
                 "latency is CPU speed, not GPU speed")


def accelerator(r: dict[str, Any]) -> str | None:
    """``gpu``/``npu`` for a result measured on an accelerator, else ``None``."""
    acc = str((r.get("options") or {}).get("accelerator") or "").lower()
    return acc if acc in ("gpu", "npu") else None


def is_software(r: dict[str, Any]) -> bool:
    """Whether the result's accelerator was a software device (lavapipe/llvmpipe, SwiftShader)."""
    return bool((r.get("device") or {}).get("software"))


def runtime_label(r: dict[str, Any]) -> str:
    """``litert-compiled/gpu`` for accelerator results, the runtime name otherwise."""
    acc = accelerator(r)
    return f"{r['runtime']}/{acc}" if acc else str(r["runtime"])


def device_label(r: dict[str, Any]) -> str | None:
    """``llvmpipe (mesa, software)``: the adapter's short name and vendor; ``None`` for the host CPU."""
    d = r.get("device")
    if not d:
        return None
    tags = [t for t in (d.get("vendor"), "software" if d.get("software") else None) if t]
    name = str(d.get("name") or "?").split(" (")[0]
    return name + (f" ({', '.join(tags)})" if tags else "")


def runtime_cell(r: dict[str, Any]) -> str:
    """The runtime column of tables: ``litert-compiled/gpu: llvmpipe (mesa, software)``."""
    dev = device_label(r)
    return runtime_label(r) + (f": {dev}" if dev else "")


def software_note(r: dict[str, Any]) -> str | None:
    """The note for a software-device result, ``None`` otherwise."""
    return SOFTWARE_NOTE.format(name=(r.get("device") or {}).get("name") or "?") if is_software(r) else None


def gpu_jobs(jobs: list[Any]) -> list[Any]:
    """For each CPU ``litert-compiled`` job, the same job on the GPU accelerator; ``[]`` without a Vulkan device.

    Each runs in its own process (the matrix isolates every job), never beside TensorFlow.
    """
    from edgeseg.runtime import vulkan

    cpu = [j for j in jobs if j.backend == "litert-compiled" and (j.options or {}).get("accelerator", "cpu") == "cpu"]
    if not cpu or not vulkan.devices():
        return []
    return [dataclasses.replace(j, options={**(j.options or {}), "accelerator": "gpu"}) for j in cpu]


def _on_gpu(jobs: list[Any]) -> bool:
    return any(str((j.options or {}).get("accelerator") or "").lower() == "gpu" for j in jobs)


def needs_own_process(jobs: list[Any]) -> bool:
    """GPU jobs asked for from a process that holds TensorFlow (tests, notebooks): they run in a fresh one."""
    import sys

    return _on_gpu(jobs) and "tensorflow" in sys.modules


def check_one_process(jobs: list[Any]) -> None:
    """Refuse GPU jobs that would share a process with TensorFlow (keras jobs, or TensorFlow already loaded):
    creating LiteRT's GPU accelerator beside TensorFlow segfaults.

    Raises:
        UsageError: such a mix, with ``--no-isolate``.
    """
    import sys

    from edgeseg.errors import UsageError

    gpu = _on_gpu(jobs)
    from edgeseg.core.fileio import sniff_model_format
    from edgeseg.runtime import DEFAULT_BACKEND

    def on_keras(job: Any) -> bool:
        if job.backend is not None:
            return job.backend == "keras"
        try:
            return DEFAULT_BACKEND.get(sniff_model_format(job.artifact)) == "keras"
        except Exception:  # noqa: BLE001 - an unreadable file fails later with its own one-line error
            return False

    keras = any(on_keras(j) for j in jobs)
    if gpu and (keras or "tensorflow" in sys.modules):
        raise UsageError("--no-isolate cannot run --accelerator gpu in a process with TensorFlow (keras): LiteRT's "
                         "GPU accelerator crashes beside it; leave out --no-isolate")


def job_runtime(job: Any) -> str:
    """A job's runtime as rows name it: ``litert-compiled/gpu`` on an accelerator, else the backend."""
    return runtime_label({"runtime": job.backend, "options": job.options})


#: Below this share of equal class pixels (accelerator vs CPU, same file, same frame) a result is flagged wrong.
MIN_AGREEMENT = 0.95


def cpu_agreement(be: Any, raw: Any, output: Any) -> dict[str, Any] | None:
    """The accelerator's ``output`` for ``raw`` against the same file on LiteRT's CPU (XNNPACK): share of
    pixels with the same class, max |logit difference|; ``None`` for CPU runtimes.

    LiteRT 2.3's GPU accelerator computes the shipped LinkNet int8 file wrong (47 % agreement), while its
    fp32 file and the ENet and U-Net files agree >= 98.5 %: a GPU result is checked, not assumed.
    """
    import numpy as np

    from edgeseg.core.metrics import class_map

    if getattr(be, "accelerator", "cpu") not in ("gpu", "npu"):
        return None
    from edgeseg import runtime

    with runtime.load(be.path, "litert-compiled", threads=be.threads) as ref:
        want = ref._decode(ref.run_raw(raw))  # pylint: disable=protected-access
    got = be._decode(output)  # pylint: disable=protected-access
    same = class_map(got) == class_map(want)
    diff = float(np.abs(got - want).max()) if got.ndim == 4 else None
    return {"agreement": float(same.mean()), "max_abs_diff": diff,
            "reference": "litert-compiled on the CPU, the latency input frame"}


def agreement_warning(r: dict[str, Any]) -> str | None:
    """A one-line warning when the accelerator's output disagrees with the CPU's, else ``None``."""
    a = r.get("cpu_agreement") or {}
    if a.get("agreement") is None or a["agreement"] >= MIN_AGREEMENT:
        return None
    return (f"its output agrees with LiteRT's CPU on only {100 * a['agreement']:.1f} % of the pixels of the input "
            f"frame: the {accelerator(r) or 'accelerator'} result is wrong, not a different rounding")
