"""``edgeseg convert``: Keras .h5 -> TFLite / ONNX artifacts, verified against Keras, with manifests."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from edgeseg.cli._byom import add_model_spec_args, outcome_rows, spec_options
from edgeseg.cli._common import add_spec_args, print_json
from edgeseg.cli._guard import add_guard_args, check_guard_args, guard_failures, guard_table, run_guard
from edgeseg.core.table import format_table
from edgeseg.export.base import CALIB_METHODS, HEADS, IO_TYPES
from edgeseg.export.registry import EXPORTERS, get_exporter


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``convert``."""
    p = sub.add_parser("convert", help="convert a Keras model to TFLite/ONNX, verify parity, write manifests")
    p.add_argument("model", type=Path, help="Keras .keras/.h5 (Keras 3 or tf_keras) or a SavedModel folder")
    g = p.add_argument_group("targets")
    for exporter in EXPORTERS.values():  # one flag per registered target: --fp32, ..., --onnx-int8
        g.add_argument(exporter.flag, action="store_true", help=exporter.help)
    g.add_argument("--all", action="store_true",
                   help="every target above the model supports (the others are listed as skipped, with the reason)")
    c = p.add_argument_group("calibration")
    c.add_argument("--calib-data", default=None, metavar="DATASET",
                   help="calibration images (default: the dataset in the model's manifest)")
    c.add_argument("--calib-count", type=int, default=200, help="calibration images (default 200)")
    c.add_argument("--calib-method", default="minmax", choices=CALIB_METHODS,
                   help="ONNX int8 calibration (default minmax)")
    o = p.add_argument_group("graph")
    o.add_argument("--input-size", default=None, metavar="HxW", help="static input size (default: manifest)")
    o.add_argument("--io", default="float", choices=IO_TYPES,
                   help="I/O type of the full-integer TFLite model (default float; uint8 implies --pixels)")
    o.add_argument("--pixels", action="store_true",
                   help="graph takes raw RGB pixels 0..255; normalisation is done inside the model "
                        "(what MediaPipe needs for per-channel mean/std)")
    o.add_argument("--head", default="logits", choices=HEADS,
                   help="output head built into the graph (argmax: uint8 class map)")
    add_spec_args(p)
    add_model_spec_args(p)
    p.add_argument("--verify-data", "--val-data", dest="verify_data", default=None, metavar="DATASET",
                   help="images (+masks) for parity (default: manifest val split, else calibration images)")
    p.add_argument("--strict", action="store_true", help="exit 1 if an artifact misses its parity expectation")
    p.add_argument("--trust-model", action="store_true",
                   help="load models with Lambda layers or classes from outside keras/keras_hub/edgeseg (runs the "
                        "Python code the file names)")
    p.add_argument("--no-lint", action="store_true", help="skip the deployability summary")
    p.add_argument("--out", type=Path, default=None, metavar="DIR", help="output folder (default: beside the model)")
    p.add_argument("--force", action="store_true",
                   help="replace artifacts/manifests that already exist (default: refuse, write nothing)")
    p.add_argument("--threads", type=int, default=None, help="engine threads for verification (default: the usable CPU cores, as in bench)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_guard_args(p)
    p.set_defaults(handler=run)


def _targets(args: argparse.Namespace) -> list[str]:
    """The asked-for targets, in registry order (``--all``: every registered one)."""
    return [name for name, e in EXPORTERS.items() if args.all or getattr(args, e.dest)]


def _tensor(t: dict) -> str:
    q = f" s={t['scale']:.4g} zp={t['zero_point']}" if t.get("scale") else ""
    return f"{t['dtype']}{q}"


def _parity(p: dict) -> str:
    if p.get("skipped"):
        return "skipped"
    parts = [f"agree {p['agreement_pct']:.2f}%"]
    if "max_abs_diff" in p:
        parts.append(f"max|d| {p['max_abs_diff']:.2g}")
    if "miou_delta_pts" in p:
        parts.append(f"mIoU {p['miou_artifact_pct']:.2f}% ({p['miou_delta_pts']:+.2f} pts vs Keras)")
    verdict = {True: "ok", False: "FAIL", None: ""}[p.get("passed")]
    return ", ".join(parts) + (f" [{verdict}]" if verdict else "")


def run(args: argparse.Namespace) -> int:
    """Handler of ``convert``."""
    from edgeseg.cli._common import spec_from_args
    from edgeseg.cli._preflight import convert_inputs

    convert_inputs(args, _targets(args))  # model file, flags, output folder, every frame: before TensorFlow
    from edgeseg.export.convert import failed, plan_conversion, run_plan
    from edgeseg.export.head import is_per_channel
    from edgeseg.export.lint import describe_group, group_findings, lint_layers

    spec = spec_from_args(args) if (args.spec is not None or args.preset is not None) else None
    plan = plan_conversion(args.model, _targets(args), calib=args.calib_data, calib_count=args.calib_count,
                           calib_method=args.calib_method, input_size=args.input_size, io=args.io, head=args.head,
                           verify_data=args.verify_data, spec=spec, trust_model=args.trust_model,
                           pixels=args.pixels, spec_options=spec_options(args), all_targets=args.all)
    err = sys.stderr
    start = time.perf_counter()

    def step(msg: str) -> None:
        err.write(f"[{time.perf_counter() - start:6.1f}s] {msg}\n")

    h, w = plan.ctx.input_size
    err.write(f"model {args.model} ({plan.source.kind}): input 1x{h}x{w}x{plan.graph.channels}, "
              f"{plan.ctx.spec.num_classes} classes, head {args.head}\n")
    for line in plan.notes:
        err.write(f"note: {line}\n")
    if not args.no_lint:
        for g in group_findings(lint_layers(plan.model)):
            err.write(f"lint {g['severity']}: {describe_group(g)}\n")
    if plan.graph_normalisation is not None:
        err.write("graph input: raw RGB pixels 0..255 (normalisation in the graph; manifest mean 0, std 1/255)\n")
    elif is_per_channel(plan.ctx.spec) and any(get_exporter(t).format == "tflite" for t in _targets(args)):
        err.write("note: per-channel mean/std; MediaPipe's ImageSegmenter needs --pixels (or --io uint8)\n")
    if plan.calibration is not None:
        err.write(f"calibration: {len(plan.calibration)} images from {plan.calibration.source}\n")
    check_guard_args(plan, _targets(args), args)
    results = run_plan(plan, args.out, threads=args.threads, on_step=step, force=args.force)
    step("done")
    guards = run_guard(plan, results, args, err) if args.max_miou_drop is not None else []
    if args.json:
        print_json({"artifacts": results, "not_written": plan.outcomes})
    else:
        rows = [[Path(r["path"]).name, r["size_bytes"], _tensor(r["input"]), _tensor(r["output"]),
                 " ".join(r["ops"]), _parity(r["parity"])] for r in results]
        print(format_table(["artifact", "bytes", "input", "output", "ops", "parity"], rows + outcome_rows(plan.outcomes)))
        if guards:
            print(guard_table(guards))
    for line in guard_failures(guards):
        err.write(f"error: {line}\n")
    if any(not g.met for g in guards):
        return 1
    failures = [o for o in plan.outcomes if o["status"] == "failed"]
    for o in failures:
        err.write(f"error: {o['target']}: {o['reason']}\n")
    if failures or not results:
        return 1
    bad = failed(results)
    if bad:
        err.write(f"parity below expectation: {', '.join(Path(p).name for p in bad)}\n")
    return 1 if (args.strict and bad) else 0
