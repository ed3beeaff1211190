"""``edgeseg models``: the registered architectures with parameters, GFLOPs and output stride."""

from __future__ import annotations

import argparse
import json
from typing import Any

from edgeseg.cli._common import print_json
from edgeseg.core.progress import Progress
from edgeseg.core.spec import parse_size
from edgeseg.core.table import format_table
from edgeseg.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``models``."""
    p = sub.add_parser("models", help="list the model zoo: parameters, GFLOPs, output stride",
                       description="Build every registered architecture (or the ones named) with random "
                                   "weights and report parameters and GFLOPs (2 x multiply-accumulates of "
                                   "conv/dense layers) at the given input size. Sizes that are not a "
                                   "multiple of a model's output stride are rounded up to one.")
    p.add_argument("names", nargs="*", metavar="NAME", help="architectures to show (default: all)")
    p.add_argument("--input-size", default="360x480", metavar="HxW", help="input size (default: 360x480)")
    p.add_argument("--num-classes", type=int, default=11, metavar="N", help="output classes (default: 11)")
    p.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                   help="architecture option, repeatable; VALUE is JSON (e.g. width=0.5, blocks=[1,1,1,1])")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON (with paper, deviations, options)")
    fmt.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.set_defaults(handler=run_models)


def parse_options(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings -> dict; values are JSON when they parse, else plain strings."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--option needs KEY=VALUE, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key.strip()] = tuple(value) if isinstance(value, list) else value
    return out


def run_models(args: argparse.Namespace) -> int:
    """Handler of ``models``."""
    size = parse_size(args.input_size)
    if args.num_classes < 1:
        raise UsageError(f"--num-classes must be at least 1, got {args.num_classes}")
    options = parse_options(args.option)
    from edgeseg.models import registry  # loads the architectures (and TensorFlow)

    names = [registry.get_info(n).name for n in args.names] or registry.list_models()
    if options and len(names) != 1:
        raise UsageError("--option applies to one architecture: name it (e.g. edgeseg models enet -o width=0.5)")
    rows = []
    bar = Progress(len(names), "building", enabled=None if not (args.json or args.markdown) else False)
    for name in names:
        rows.append(describe(name, size, args.num_classes, options))
        bar.update()
    bar.close()
    if args.json:
        print_json({"input_size": list(size), "num_classes": args.num_classes, "models": rows})
        return 0
    headers = ["model", "params (M)", "GFLOPs", "output stride", "input used", "description"]
    table = [[r["name"], round(r["params"] / 1e6, 3), round(r["gflops"], 2), r["output_stride"],
              "x".join(map(str, r["input_size"])), r["description"]] for r in rows]
    print(format_table(headers, table, markdown=args.markdown))
    return 0


def describe(name: str, size: tuple[int, int], num_classes: int, options: dict[str, Any]) -> dict[str, Any]:
    """Build ``name`` at ``size`` rounded up to its input multiple; its counts and registry facts."""
    from edgeseg._keras import keras
    from edgeseg.models import build, get_info, gflops, input_multiple, resolve_options, round_up_size

    info = get_info(name)
    stride = input_multiple(name, **options)
    used = round_up_size(size, stride)
    model = build(name, num_classes, used, **options)
    row = {
        "name": name,
        "params": int(model.count_params()),
        "trainable_params": int(sum(int(w.shape.num_elements()) for w in model.trainable_weights)),
        "gflops": gflops(model),
        "output_stride": stride,
        "input_size": list(used),
        "description": info.description,
        "paper": info.paper,
        "deviations": info.deviations,
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in resolve_options(name, **options).items()},
    }
    del model
    keras.backend.clear_session()
    return row
