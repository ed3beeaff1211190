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
    keras = any(j.backend == "keras" or (j.backend is None and str(j.artifact).lower().endswith(".h5")) for j in jobs)
    if gpu and (keras or "tensorflow" in sys.modules):
        raise UsageError("--no-isolate cannot run --accelerator gpu in a process with TensorFlow (keras): LiteRT's "
                         "GPU accelerator crashes beside it; leave out --no-isolate")


def job_runtime(job: Any) -> str:
    """A job's runtime as rows name it: ``litert-compiled/gpu`` on an accelerator, else the backend."""
    return runtime_label({"runtime": job.backend, "options": job.options})
