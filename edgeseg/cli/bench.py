"""``edgeseg bench``: latency, memory, delegation and (with --data) accuracy of artifacts, per runtime."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from edgeseg.cli._common import add_dataset_args, add_spec_args, spec_from_args
from edgeseg.cli._json_arg import add_json_args, json_targets, json_to_stdout, legacy_note, split_old_json_file
from edgeseg.errors import EdgesegError, UsageError, one_line
from edgeseg.export.registry import list_targets

_BACKEND_OPTIONS = ("xnnpack", "accelerator", "providers", "graph_opt", "delegate", "delegate_options", "dispatch")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``bench`` parser."""
    p = sub.add_parser("bench", help="latency / memory / accuracy of .tflite, .onnx or .h5 artifacts",
                       description="Measure artifacts the way TFLite's benchmark_model does: init time, first "
                                   "inference, warm-up, then timed runs until both --runs and --min-time are "
                                   "reached; with --data also mIoU over a dataset.")
    p.add_argument("artifacts", nargs="*", type=Path, metavar="ARTIFACT",
                   help="one or more .tflite, .onnx or Keras .h5 files")
    p.add_argument("--backend", default=None,
                   help="runtime(s), comma-separated: litert, litert-compiled, onnxruntime, keras, or 'all' "
                        "(default: the usual one for each file's format)")
    p.add_argument("--threads", default=None,
                   help=f"CPU threads of every runtime, or a sweep like 1,2,4 (default: the usable CPU cores, "
                        f"{_cores()} here)")
    t = p.add_argument_group("timing")
    t.add_argument("--runs", type=int, default=50, help="minimum timed runs (default 50)")
    t.add_argument("--min-time", type=float, default=1.0, help="minimum seconds of timed runs (default 1)")
    t.add_argument("--warmup-runs", type=int, default=1, help="minimum warm-up runs (default 1)")
    t.add_argument("--warmup-time", type=float, default=0.5, help="minimum warm-up seconds (default 0.5)")
    t.add_argument("--image", type=Path, default=None,
                   help="the fixed input frame (default: first dataset frame, else a bundled sample frame)")
    t.add_argument("--profile", action="store_true", help="add a per-op profile where the runtime has one")
    o = p.add_argument_group("runtime options")
    o.add_argument("--xnnpack", dest="xnnpack", action="store_true", default=None, help="litert: XNNPACK on (default)")
    o.add_argument("--no-xnnpack", dest="xnnpack", action="store_false", help="litert: builtin kernels only")
    o.add_argument("--accelerator", default=None, choices=("cpu", "gpu", "npu"), help="litert-compiled accelerator")
    o.add_argument("--delegate", default=None, metavar="PATH.so",
                   help="litert: external TFLite delegate library (EdgeTPU, Hexagon, Arm NN, vendor NPU)")
    o.add_argument("--delegate-option", dest="delegate_option", action="append", default=None, metavar="KEY=VALUE",
                   help="an option of --delegate, repeatable (e.g. device=usb)")
    o.add_argument("--npu-dispatch", dest="dispatch", default=None, metavar="PATH.so",
                   help="litert-compiled: LiteRT NPU dispatch library (or its folder); implies --accelerator npu")
    o.add_argument("--providers", default=None, help="onnxruntime providers, e.g. cuda,cpu (default cpu)")
    o.add_argument("--graph-opt", dest="graph_opt", default=None, choices=("disable", "basic", "extended", "all"),
                   help="onnxruntime graph optimisation level (default all)")
    d = p.add_argument_group("Android device (adb + TFLite's benchmark_model)")
    d.add_argument("--adb", nargs="?", const="", default=None, metavar="SERIAL",
                   help="run on an Android device over adb (SERIAL: adb -s; default: the only device); "
                        "--accelerator gpu/npu -> --use_gpu/--use_nnapi, --no-xnnpack -> plain CPU kernels")
    d.add_argument("--benchmark-binary", type=Path, default=None, metavar="PATH",
                   help="TFLite's benchmark_model built for the device (android_aarch64_benchmark_model)")
    a = p.add_argument_group("accuracy (with --data)")
    add_dataset_args(a, positional=False)
    add_spec_args(p)
    out = p.add_argument_group("output")
    add_json_args(out)
    out.add_argument("--isolate", dest="isolate", action="store_true", default=None,
                     help="measure each artifact/runtime/threads in a fresh process (default when there are several)")
    out.add_argument("--no-isolate", dest="isolate", action="store_false", help="measure everything in this process")
    m = p.add_argument_group("matrix (MODEL.h5 -> every format/precision -> every runtime)")
    m.add_argument("--matrix", action="store_true", help="convert the .h5 to every format and precision, then bench all")
    m.add_argument("--calib-data", default=None, metavar="DATASET", help="calibration dataset for int8 (matrix)")
    m.add_argument("--targets", default=None, metavar="T1,T2",
                   help="matrix: only these convert targets, comma-separated, from: "
                        f"{', '.join(list_targets())} (default: all)")
    m.add_argument("--calib-split", default=None, help="split of a SegNet-layout calibration dataset")
    m.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="write matrix.md/.json/.csv and plots here (also without --matrix, over the given artifacts)")
    p.set_defaults(handler=run_bench, late_positionals="artifacts")


def _cores() -> int:
    from edgeseg.runtime import default_threads

    return default_threads()


def parse_threads(text: str | None) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]``; ``None`` -> ``[usable cores]``, the one default of every runtime."""
    if not text:
        return [_cores()]
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"--threads takes integers like 1,2,4, got {text!r}") from None
    if not vals or min(vals) < 1:
        raise UsageError(f"--threads must be positive integers, got {text!r}")
    return vals


def _backends_for(path: Path, requested: str | None) -> list[str]:
    from edgeseg import runtime
    from edgeseg.core.fileio import sniff_model_format

    fmt = sniff_model_format(path)
    if not requested:
        return [runtime.DEFAULT_BACKEND[fmt]]
    if requested.strip().lower() == "all":
        return runtime.available_backends(fmt)
    names = [runtime.canonical_name(n) for n in requested.split(",") if n.strip()]
    usable = [n for n in names if fmt in runtime.backend_class(n).formats]
    if not usable:
        raise UsageError(f"{path}: a {fmt} file; none of the backends {', '.join(names)} loads it")
    return usable


def build_jobs(args: argparse.Namespace) -> list[Any]:
    """One BenchJob per artifact x backend x thread count."""
    from edgeseg import runtime
    from edgeseg.bench.runner import BenchJob, DatasetRef

    spec = spec_from_args(args)
    dataset = None
    if args.dataset is not None or args.images is not None:
        dataset = DatasetRef(args.dataset, args.split, str(args.images) if args.images else None,
                             str(args.masks) if args.masks else None, args.sequences)
    if args.runs < 1 or args.min_time < 0 or args.warmup_runs < 0 or args.warmup_time < 0:
        raise UsageError("--runs must be >= 1 and times/warm-up counts >= 0")
    _delegate_args(args)
    latency = {"min_runs": args.runs, "min_seconds": args.min_time, "warmup_runs": args.warmup_runs,
               "warmup_seconds": args.warmup_time}
    jobs = []
    for art in args.artifacts:
        for be in _backends_for(art, args.backend):
            allowed = runtime.backend_class(be).OPTIONS
            opts = {k: getattr(args, k) for k in _BACKEND_OPTIONS if k in allowed and getattr(args, k) is not None}
            for th in parse_threads(args.threads):
                jobs.append(BenchJob(artifact=str(art), backend=be, threads=th, options=opts, latency=latency,
                                     image=str(args.image) if args.image else None, dataset=dataset,
                                     fallback_spec=_fallback_spec(art, args, spec), profile=args.profile))
    return jobs


def _fallback_spec(artifact: Path, args: argparse.Namespace, spec: Any) -> dict[str, Any]:
    """--spec/--preset if given, else (a Keras source without a manifest) the spec convert recorded for it."""
    from edgeseg.cli._byom import baseline_spec

    given = getattr(args, "spec", None) is not None or getattr(args, "preset", None) is not None
    own = None if given else baseline_spec(artifact, args.artifacts)
    return (own or spec).to_dict()


def _delegate_args(args: argparse.Namespace) -> None:
    """Parse --delegate-option; --npu-dispatch picks litert-compiled on the NPU unless told otherwise."""
    from edgeseg import runtime
    from edgeseg.runtime.delegates import parse_delegate_options

    args.delegate_options = parse_delegate_options(getattr(args, "delegate_option", None)) or None
    if args.delegate_options and not getattr(args, "delegate", None):
        raise UsageError("--delegate-option needs --delegate PATH.so")
    if getattr(args, "dispatch", None):
        args.backend = args.backend or "litert-compiled"
        args.accelerator = args.accelerator or "npu"
    if getattr(args, "delegate", None) and args.backend and "litert" not in [
            runtime.canonical_name(b) for b in args.backend.split(",") if b.strip()]:
        raise UsageError("--delegate applies to the litert backend")


def run_bench(args: argparse.Namespace) -> int:
    """Handler of ``bench``."""
    split_old_json_file(args)
    if not args.artifacts:
        raise UsageError("bench needs at least one ARTIFACT (.tflite, .onnx or .h5)")
    if args.matrix:
        from edgeseg.cli.bench_matrix import run_matrix

        return run_matrix(args)
    if args.calib_data:
        raise UsageError("--calib-data belongs to --matrix")
    if args.targets:
        raise UsageError("--targets belongs to --matrix")
    if args.adb is not None:
        return run_android(args)
    from edgeseg.bench.report import format_per_class, format_results, make_report

    jobs = build_jobs(args)
    results, failures = measure(jobs, args.isolate)
    report = make_report(results, failures)
    quiet_stdout = json_to_stdout(args)
    if not quiet_stdout:
        print(format_results(results))
        _print_device_notes(results)
        per_class = format_per_class(results)
        if per_class:
            print("\nper class (IoU, precision, recall in %; precision far below recall = over-predicted):")
            print(per_class)
        for f in failures:
            print(f"failed: {f['artifact']} [{f['runtime']}, threads={f['threads']}]: {f['error']}", file=sys.stderr)
    for target in json_targets(args):
        write_json(report, target)
    legacy_note(args)
    if args.out is not None and results:  # a matrix over already-converted artifacts
        from edgeseg.bench.matrix import write_matrix

        files = write_matrix(results, failures, args.out)
        if not quiet_stdout:
            print("wrote " + ", ".join(str(p) for p in files.values()))
    if not results:
        raise EdgesegError(failures[0]["error"] if failures else "nothing was measured")
    return 1 if failures else 0


def run_android(args: argparse.Namespace) -> int:
    """``--adb``: benchmark_model on the device, one run per artifact x thread count."""
    from edgeseg.bench.android import AndroidBench
    from edgeseg.core.fileio import sniff_model_format
    from edgeseg.core.manifest import Manifest

    if args.benchmark_binary is None:
        raise UsageError("--adb needs --benchmark-binary PATH (TFLite's benchmark_model for the device)")
    delegate = {"gpu": "gpu", "npu": "nnapi"}.get(args.accelerator or "", "cpu" if args.xnnpack is False else "xnnpack")
    from edgeseg.bench.report import rounded as _r

    results = []
    for art in args.artifacts:
        if sniff_model_format(art) != "tflite":
            raise UsageError(f"{art}: --adb runs .tflite files only")
        for th in parse_threads(args.threads):
            bench = AndroidBench(art, args.benchmark_binary, serial=args.adb or None, delegate=delegate, threads=th,
                                 runs=args.runs, min_secs=args.min_time, warmup_runs=args.warmup_runs,
                                 warmup_secs=args.warmup_time)
            r = bench.run()
            manifest = Manifest.for_artifact(art)
            r["precision"] = ((manifest.get("artifact") or {}).get("precision") if manifest else None) or "unknown"
            results.append(r)
    for target in json_targets(args):
        write_json(results[0] if len(results) == 1 else {"results": results}, target)
    legacy_note(args)
    if not json_to_stdout(args):
        for r in results:
            lat = r["latency_ms"]
            print(f"{Path(r['artifact']).name} [{r['runtime']}, threads={r['threads']}]: init {_r(lat['init'])} "
                  f"ms, first {_r(lat['first'])} ms, warm-up {_r(r['warmup']['mean_ms'])} ms, avg {_r(lat['mean'])} "
                  f"ms, std {_r(lat['std'])} ms, peak memory {_r(r['peak_rss_mb'], 1)} MB")
    return 0


def measure(jobs: list[Any], isolate: bool | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run the jobs (isolated when asked, or by default when there are several); collect failures
    of individual runtimes instead of stopping at the first."""
    from edgeseg.bench.runner import run_isolated, run_job

    from edgeseg.bench.device import check_one_process, needs_own_process

    isolated = isolate if isolate is not None else len(jobs) > 1 or needs_own_process(jobs)
    if not isolated:
        check_one_process(jobs)
    results, failures = [], []
    for job in jobs:
        try:
            results.append(run_isolated(job) if isolated else run_job(job))
        except EdgesegError as exc:
            if len(jobs) == 1:
                raise
            failures.append({"artifact": job.artifact, "runtime": job.backend, "threads": job.threads,
                             "error": one_line(exc)})
    return results, failures


def write_json(report: dict[str, Any], target: Path) -> None:
    """JSON to a file (atomically) or to stdout for ``-``."""
    from edgeseg.bench.report import report_json
    from edgeseg.core.fileio import write_text_atomic

    text = report_json(report)
    if str(target) == "-":
        sys.stdout.write(text)
    else:
        write_text_atomic(target, text)


def _print_device_notes(results: list[dict[str, Any]]) -> None:
    """One ``note:`` per software-device result (its latency is not GPU speed), one ``warning:`` on stderr per
    accelerator result that disagrees with the CPU."""
    from edgeseg.bench.device import agreement_warning, runtime_cell, software_note

    for r in results:
        note, warn = software_note(r), agreement_warning(r)
        if note:
            print(f"note: {Path(r['artifact']).name} [{runtime_cell(r)}]: {note}")
        if warn:
            print(f"warning: {Path(r['artifact']).name} [{runtime_cell(r)}]: {warn}", file=sys.stderr)
