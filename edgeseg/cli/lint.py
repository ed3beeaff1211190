"""``edgeseg lint``: deployability report of a Keras model or SavedModel (builtins, XNNPACK, GPU delegate, shapes)."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgeseg.cli._common import print_json
from edgeseg.core.table import format_table


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``lint``."""
    p = sub.add_parser("lint", help="report layers/ops that will not deploy well (TFLite, XNNPACK, GPU)")
    p.add_argument("model", type=Path, help="Keras .keras/.h5 (Keras 3 or tf_keras) or a SavedModel folder")
    p.add_argument("--input-size", default=None, metavar="HxW", help="size for the trial conversion")
    p.add_argument("--trust-model", action="store_true", help="allow Lambda layers (runs code from the file)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=run)


def _layers(names: list[str], shown: int = 3) -> str:
    return ", ".join(names[:shown]) + (", ..." if len(names) > shown else "")


def run(args: argparse.Namespace) -> int:
    """Handler of ``lint``: exit 1 when an error-level finding exists."""
    from edgeseg.core.spec import parse_size
    from edgeseg.export.lint import Finding, group_findings, lint_model
    from edgeseg.export.sources import open_source

    model = open_source(args.model, trust_model=args.trust_model)
    size = parse_size(args.input_size) if args.input_size else None
    report = lint_model(model, size)
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    if args.json:
        print_json(report)
        return 1 if errors else 0
    ops = ", ".join(f"{k} x{v}" for k, v in report["ops"].items())
    print(f"fp32 TFLite ops: {ops or '-'}")
    x = report.get("xnnpack") or {}
    if x:
        print(f"XNNPACK (fp32): {x.get('delegated')}/{x.get('total')} nodes delegated")
    if report["findings"]:
        groups = group_findings([Finding(**f) for f in report["findings"]])
        rows = [[g["severity"], g["count"], _layers(g["layers"]), g["issue"], g["fix"]] for g in groups]
        print(format_table(["severity", "n", "layers/ops", "issue", "fix"], rows))
    else:
        print("no findings")
    return 1 if errors else 0
