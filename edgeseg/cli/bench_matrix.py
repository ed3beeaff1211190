"""``edgeseg bench MODEL.h5 --matrix``: convert to every format/precision, bench each on every runtime.

The one place where export and bench meet: export is imported inside :func:`run_matrix` only.
Every measurement runs in a fresh process so peak RSS is the artifact's own, not TensorFlow's.
Each conversion and measurement is announced on stderr; Ctrl-C writes the rows measured so far.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable

from edgeseg.errors import EdgesegError, UsageError, one_line

EXIT_INTERRUPTED = 130


class _Steps:
    """``[  12.3s] convert 2/3: int8`` lines on stderr."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self, msg: str) -> None:
        sys.stderr.write(f"[{time.perf_counter() - self.start:6.1f}s] {msg}\n")
        sys.stderr.flush()


def _targets(args: argparse.Namespace) -> list[str]:
    from edgeseg.export.registry import get_exporter, list_targets

    targets = list_targets()
    if args.targets:
        wanted = [t.strip() for t in args.targets.split(",") if t.strip()]
        if not wanted:
            raise UsageError("--targets names no convert target")
        for name in wanted:
            get_exporter(name)  # the registry's one-line error for an unknown target, before any work
        targets = [t for t in targets if t in wanted]
    return targets


def _convert(model: Path, out: Path, args: argparse.Namespace, targets: list[str], step: Callable[[str], None],
             left: list[str]) -> tuple[list[Path], list[dict[str, Any]]]:
    """Convert one target at a time (each artifact lands with its manifest); ``left`` lists the targets not
    converted yet, so an interrupt can say what was left."""
    from edgeseg.cli._common import spec_from_args
    from edgeseg.core.dataset import resolve_dataset
    from edgeseg.core.manifest import find_model_manifest
    from edgeseg.export.convert import convert_model, output_paths

    manifest = find_model_manifest(model)
    spec = manifest.spec if manifest is not None else spec_from_args(args)
    calib = resolve_dataset(args.calib_data, spec, split=args.calib_split) if args.calib_data else None
    paths, failures = [], []
    for i, t in enumerate(targets, 1):
        step(f"convert {i}/{len(targets)}: {model.name} -> {t}")
        try:
            paths += [Path(d["path"]) for d in convert_model(model, [t], out, calib=calib, force=True)]
        except EdgesegError as exc:
            failures.append({"artifact": f"{model.name} -> {t}", "runtime": "convert", "threads": None,
                             "error": one_line(exc)})
        except KeyboardInterrupt:
            art, side = output_paths(model, [t], out)
            if art.exists() and not side.exists():
                art.unlink()  # exported, not yet verified: no artifact without its manifest
            raise
        left.remove(f"convert {t}")
    return paths, failures


def run_matrix(args: argparse.Namespace) -> int:
    """Handler of ``bench --matrix``."""
    from edgeseg.bench.device import gpu_jobs
    from edgeseg.cli.bench import build_jobs
    from edgeseg.core.fileio import sniff_model_format

    if len(args.artifacts) != 1 or sniff_model_format(args.artifacts[0]) != "h5":
        raise UsageError("--matrix takes exactly one Keras .h5 model")
    if args.out is None:
        raise UsageError("--matrix needs --out DIR")
    if args.dataset is None and args.images is None:
        raise UsageError("--matrix needs --data DATASET (mIoU is half of the matrix)")
    model = args.artifacts[0]
    targets = _targets(args)
    step = _Steps()
    left = [f"convert {t}" for t in targets] + ["bench every artifact"]
    results: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    try:
        artifacts, failures = _convert(model, args.out / "artifacts", args, targets, step, left)
        args.artifacts = [model, *artifacts]
        args.backend = args.backend or "all"
        jobs = build_jobs(args)
        jobs += gpu_jobs(jobs)  # the GPU accelerator too, when this machine has a Vulkan device
        left = [_job_name(j) for j in jobs]
        _measure(jobs, args.out, step, results, failures, left)
    except KeyboardInterrupt:
        return _interrupted(results, failures, args.out, model, left)
    return _finish(results, failures, args.out, model)


def _job_name(job: Any) -> str:
    from edgeseg.bench.device import job_runtime

    return f"{Path(job.artifact).name} [{job_runtime(job)}, {job.threads} threads]"


def _measure(jobs: list[Any], out: Path, step: Callable[[str], None], results: list[dict[str, Any]],
             failures: list[dict[str, Any]], left: list[str]) -> None:
    """Each job in a fresh process, announced; results and failures are appended as they come."""
    from edgeseg.bench.device import job_runtime
    from edgeseg.bench.runner import run_isolated

    for i, job in enumerate(jobs, 1):
        job.overlays_dir = str(out / "overlays" / f"{Path(job.artifact).name}.{job_runtime(job).replace('/', '-')}"
                                                  f".t{job.threads}")
        job.overlays = 3
        job.show_progress = None
        step(f"bench {i}/{len(jobs)}: {_job_name(job)}")
        try:
            results.append(run_isolated(job))
        except EdgesegError as exc:
            failures.append({"artifact": job.artifact, "runtime": job_runtime(job), "threads": job.threads,
                             "error": one_line(exc)})
        left.remove(_job_name(job))


def _finish(results: list[dict[str, Any]], failures: list[dict[str, Any]], out: Path, model: Path,
            extra: dict[str, Any] | None = None) -> int:
    from edgeseg.bench.matrix import matrix_rows, table, write_matrix

    files = write_matrix(results, failures, out, extra={"model": str(model), **(extra or {})})
    print(table(matrix_rows(results)))
    for f in failures:
        print(f"failed: {f['artifact']} [{f['runtime']}]: {f['error']}")
    print("wrote " + ", ".join(str(p) for p in files.values()))
    return 1 if failures else 0


def _interrupted(results: list[dict[str, Any]], failures: list[dict[str, Any]], out: Path, model: Path,
                 left: list[str]) -> int:
    """Ctrl-C: keep what was measured (matrix files over the finished rows) and say what was left."""
    if results:
        _finish(results, failures, out, model, extra={"interrupted": True, "left": left})
    sys.stderr.write(f"interrupted: {len(results)} row(s) measured and written; left: {', '.join(left) or 'none'}\n")
    return EXIT_INTERRUPTED
