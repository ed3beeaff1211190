"""``edgeseg bench MODEL.h5 --matrix``: convert to every format/precision, bench each on every runtime.

The one place where export and bench meet: export is imported inside :func:`run_matrix` only.
Every measurement runs in a fresh process so peak RSS is the artifact's own, not TensorFlow's.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError, UsageError


def _convert(model: Path, out: Path, args: argparse.Namespace) -> tuple[list[Path], list[dict[str, Any]]]:
    from edgeseg.core.dataset import resolve_dataset
    from edgeseg.core.manifest import find_model_manifest
    from edgeseg.cli._common import spec_from_args
    from edgeseg.export.convert import convert_model
    from edgeseg.export.registry import get_exporter, list_targets

    manifest = find_model_manifest(model)
    spec = manifest.spec if manifest is not None else spec_from_args(args)
    calib = resolve_dataset(args.calib_data, spec, split=args.calib_split) if args.calib_data else None
    targets = list_targets()
    if args.targets:
        wanted = [t.strip() for t in args.targets.split(",") if t.strip()]
        if not wanted:
            raise UsageError("--targets names no convert target")
        for name in wanted:
            get_exporter(name)  # the registry's one-line error for an unknown target, before any work
        targets = [t for t in targets if t in wanted]
    try:
        done = convert_model(model, targets, out, calib=calib, threads=None)
        return [Path(d["path"]) for d in done], []
    except EdgesegError:
        pass  # one target failed: convert the rest one by one, and report which
    paths, failures = [], []
    for t in targets:
        try:
            paths += [Path(d["path"]) for d in convert_model(model, [t], out, calib=calib)]
        except EdgesegError as exc:
            failures.append({"artifact": f"{model.name} -> {t}", "runtime": "convert", "threads": None,
                             "error": " ".join(str(exc).split())})
    return paths, failures


def run_matrix(args: argparse.Namespace) -> int:
    """Handler of ``bench --matrix``."""
    from edgeseg.bench.matrix import matrix_rows, table, write_matrix
    from edgeseg.cli.bench import build_jobs, measure
    from edgeseg.core.fileio import sniff_model_format

    if len(args.artifacts) != 1 or sniff_model_format(args.artifacts[0]) != "h5":
        raise UsageError("--matrix takes exactly one Keras .h5 model")
    if args.out is None:
        raise UsageError("--matrix needs --out DIR")
    if args.dataset is None and args.images is None:
        raise UsageError("--matrix needs --data DATASET (mIoU is half of the matrix)")
    model = args.artifacts[0]
    artifacts, failures = _convert(model, args.out / "artifacts", args)
    args.artifacts = [model, *artifacts]
    backend = args.backend
    args.backend = backend or "all"
    jobs = build_jobs(args)
    for job in jobs:
        tag = f"{Path(job.artifact).name}.{job.backend}.t{job.threads or 'default'}"
        job.overlays_dir = str(args.out / "overlays" / tag)
        job.overlays = 3
        job.show_progress = None
    results, bench_failures = measure(jobs, isolate=True)
    failures += bench_failures
    files = write_matrix(results, failures, args.out, extra={"model": str(model)})
    print(table(matrix_rows(results)))
    for f in failures:
        print(f"failed: {f['artifact']} [{f['runtime']}]: {f['error']}")
    print("wrote " + ", ".join(str(p) for p in files.values()))
    return 1 if failures else 0
