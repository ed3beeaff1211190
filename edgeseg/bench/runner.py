"""Benchmark one artifact on one runtime: init, latency, peak RSS, delegation, accuracy -> a dict.

:func:`run_job` does it in this process; :func:`run_isolated` in a fresh interpreter
(``python -m edgeseg.bench.worker``), so peak RSS counts only that artifact and runtime.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.bench.device import cpu_agreement
from edgeseg.bench.latency import LatencyConfig, measure_invoke, measure_pre_post
from edgeseg.bench.system import machine_info, peak_rss_mb, versions
from edgeseg.core.spec import Spec
from edgeseg.errors import DataError, EdgesegError, RuntimeBackendError

log = logging.getLogger(__name__)

SAMPLE_FRAMES = Path(__file__).resolve().parents[2] / "samples" / "camvid" / "images"


@dataclass(frozen=True)
class DatasetRef:
    """A dataset for accuracy: ``folder`` (``images/`` + ``masks/``, or the SegNet layout with ``split``), or
    two explicit folders ``images`` + ``masks`` (the same references as ``--data``/``--split``/``--images``);
    ``sequences`` (``"0006R0"`` or ``"A,B"``) keeps only the frames whose names start with one of them."""

    folder: str | None = None
    split: str | None = None
    images: str | None = None
    masks: str | None = None
    sequences: str | None = None

    @classmethod
    def of(cls, value: "DatasetRef | str | os.PathLike[str] | dict[str, Any] | None") -> "DatasetRef | None":
        """A folder path, a DatasetRef, or its dict form (as it crosses a process boundary) -> DatasetRef."""
        if value is None or isinstance(value, DatasetRef):
            return value
        if isinstance(value, dict):
            folder = value.get("folder", value.get("ref"))  # "ref": the name before DatasetRef
            return cls(*(None if v is None else str(v) for v in (folder, value.get("split"), value.get("images"),
                                                                  value.get("masks"), value.get("sequences"))))
        return cls(folder=os.fspath(value))


@dataclass
class BenchJob:
    """Everything one measurement needs; JSON-serialisable so it can cross a process boundary.

    ``dataset`` (a folder path or a :class:`DatasetRef`) adds accuracy over it; ``threads`` ``None`` means
    :func:`edgeseg.runtime.default_threads`. Run it with :func:`run_job` (this process) or
    :func:`run_isolated` (a fresh one), or use :func:`bench` for one call.
    """

    artifact: str
    backend: str | None = None
    threads: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    latency: dict[str, Any] = field(default_factory=dict)  # LatencyConfig fields
    image: str | None = None  # the fixed real input; default: first dataset frame, else a sample frame
    dataset: DatasetRef | str | os.PathLike[str] | None = None
    fallback_spec: dict[str, Any] | None = None  # used when the artifact has no manifest
    profile: bool = False
    overlays_dir: str | None = None
    overlays: int = 0
    show_progress: bool | None = None

    def __post_init__(self) -> None:
        self.artifact = os.fspath(self.artifact)
        self.dataset = DatasetRef.of(self.dataset)


def _spec_of(backend: Any, job: BenchJob) -> tuple[Spec, str]:
    from edgeseg.core.presets import get_preset

    if backend.manifest is not None:
        return backend.manifest.spec, "manifest"
    spec = Spec.from_dict(job.fallback_spec) if job.fallback_spec else get_preset("camvid")
    h, w = backend.input_size
    return (spec.with_(input_size=(h, w)) if h > 0 and w > 0 else spec), "fallback"


def _dataset(job: BenchJob, spec: Spec) -> Any:
    from edgeseg.core.dataset import only_sequences, resolve_dataset

    d = DatasetRef.of(job.dataset) or DatasetRef()
    ds = resolve_dataset(d.folder, spec, split=d.split, images=d.images, masks=d.masks)
    return only_sequences(ds, d.sequences) if d.sequences else ds


def _input_image(job: BenchJob, dataset: Any) -> tuple[np.ndarray | None, str]:
    from edgeseg.core.dataset import FolderDataset

    if job.image:
        from PIL import Image

        try:
            with Image.open(job.image) as im:
                return np.asarray(im.convert("RGB")), job.image
        except OSError as exc:
            raise DataError(f"{job.image}: not a readable image ({exc})") from None
    if dataset is not None:
        return dataset.read_image(0), str(dataset.samples[0].image)
    if SAMPLE_FRAMES.is_dir():
        try:
            sample = FolderDataset(SAMPLE_FRAMES, None, _camvid(), masks_required=False)
            return sample.read_image(0), str(sample.samples[0].image)
        except EdgesegError:
            pass
    return None, "random"


def _camvid() -> Spec:
    from edgeseg.core.presets import get_preset

    return get_preset("camvid")


def _precision(backend: Any) -> str:
    art = (backend.manifest.get("artifact") or {}) if backend.manifest is not None else {}
    if art.get("precision"):
        return str(art["precision"])
    if backend.input.quantized or backend.input.dtype in ("int8", "uint8"):
        return "int8"
    ops = getattr(getattr(backend, "summary", None), "op_types", {}) or {}
    if "DEQUANTIZE" in ops:
        return "fp16"
    return "fp32"


def run_job(job: BenchJob) -> dict[str, Any]:
    """Measure one artifact with one runtime in this process; returns the report dict."""
    from edgeseg import runtime
    from edgeseg.core.fileio import sniff_model_format
    from edgeseg.bench.accuracy import input_channels
    from edgeseg.core.preprocess import preprocess

    fmt = sniff_model_format(job.artifact)
    t0 = time.perf_counter()
    be = runtime.load(job.artifact, job.backend, threads=job.threads, **job.options)
    init_ms = (time.perf_counter() - t0) * 1e3
    spec, spec_source = _spec_of(be, job)
    h, w = be.input_size
    size = (h, w) if h > 0 and w > 0 else spec.input_size
    dataset = _dataset(job, spec) if job.dataset else None
    image, source = _input_image(job, dataset)
    cfg = LatencyConfig(**job.latency)
    channels = input_channels(be)
    if image is not None:
        x = preprocess(image, spec, size, channels)[None]
    else:
        x = np.random.default_rng(0).normal(size=(1, *size, channels)).astype(np.float32)
    raw = be._encode(x)  # pylint: disable=protected-access
    lat = measure_invoke(be, raw, cfg)
    lat.init_ms = init_ms
    last_output = np.array(be.get_output())  # the accelerator's answer on the latency frame, for cpu_agreement
    if image is not None:
        lat.pre_ms, lat.post_ms = measure_pre_post(be, image, lambda im: preprocess(im, spec, size, channels),
                                                  cfg.pre_post_runs)
    rss = peak_rss_mb()  # before the dataset pass, so it is the inference footprint only
    delegated = be.delegated_ops()
    share = None
    if delegated and delegated.get("delegated") is not None and delegated.get("total"):
        share = delegated["delegated"] / delegated["total"]
    out: dict[str, Any] = {
        "artifact": str(job.artifact), "format": fmt, "precision": _precision(be), "runtime": be.name,
        "threads": be.threads, "options": be.describe()["options"], "engine_version": be.engine_version(),
        "size_bytes": Path(job.artifact).stat().st_size, "spec_source": spec_source,
        "input": {"source": source, "shape": [1, *size, channels], "dtype": be.input.dtype,
                  "quantization": [be.input.scale, be.input.zero_point] if be.input.quantized else None},
        **lat.to_dict(), "peak_rss_mb": rss, "delegated_ops": delegated, "delegated_share": share,
        "device": be.device(), "cpu_agreement": cpu_agreement(be, raw, last_output),
    }
    if out["device"] and out["device"].get("software"):
        from edgeseg.bench.device import software_note

        out["latency_note"] = software_note(out)
    if job.profile:
        out["profile"] = be.profile(raw)
    if dataset is not None:
        _accuracy(be, dataset, spec, size, job, out)
    out["machine"] = machine_info()
    out["versions"] = versions()
    be.close()
    return out


def _accuracy(be: Any, dataset: Any, spec: Spec, size: tuple[int, int], job: BenchJob, out: dict[str, Any]) -> None:
    from edgeseg.bench.accuracy import evaluate
    from edgeseg.core.progress import Progress

    bar = Progress(len(dataset), f"{Path(job.artifact).name} [{be.name}]", enabled=job.show_progress)
    acc = evaluate(be, dataset, spec, size, on_item=bar.update, keep=job.overlays if job.overlays_dir else 0)
    bar.close()
    out.update(acc.to_dict(spec.class_names))
    out["confusion_matrix"] = acc.matrix.tolist()
    out["class_names"] = list(spec.class_names)
    if job.overlays_dir and acc.kept:
        from edgeseg.bench.visual import save_overlays

        out["overlays"] = save_overlays(dataset, acc.kept, spec, Path(job.overlays_dir))


def run_isolated(job: BenchJob, timeout: float | None = None) -> dict[str, Any]:
    """:func:`run_job` in a fresh Python process (``python -m edgeseg.bench.worker``)."""
    cmd = [sys.executable, "-m", "edgeseg.bench.worker"]
    try:
        proc = subprocess.run(cmd, input=json.dumps(asdict(job)), capture_output=False, text=True,
                              stdout=subprocess.PIPE, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise RuntimeBackendError(f"{job.artifact}: benchmark did not finish in {timeout:.0f} s") from None
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else None
    except json.JSONDecodeError:
        result = None
    if proc.returncode != 0 or not isinstance(result, dict) or "error" in result:
        msg = result.get("error") if isinstance(result, dict) else None
        raise RuntimeBackendError(msg or f"{job.artifact}: benchmark process died (exit code {proc.returncode})")
    return result
