"""``edgeseg data inspect``: counts, sizes, class frequencies, weights and problems of a dataset."""

from __future__ import annotations

import argparse

from edgeseg.cli._common import add_dataset_args, add_spec_args, dataset_from_args, print_json, spec_from_args
from edgeseg.core.progress import Progress
from edgeseg.core.stats import inspect_dataset
from edgeseg.core.table import format_table


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``data`` and its ``inspect`` action."""
    p = sub.add_parser("data", help="inspect a dataset")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    ins = actions.add_parser("inspect", help="image count, sizes, class frequencies, weights, problems")
    add_dataset_args(ins)
    add_spec_args(ins)
    ins.add_argument("--json", action="store_true", help="print JSON instead of tables")
    ins.set_defaults(handler=run_inspect)
    p.set_defaults(handler=lambda args: (p.print_help(), 2)[1])


def run_inspect(args: argparse.Namespace) -> int:
    """Handler of ``data inspect``."""
    spec = spec_from_args(args)
    listed: list[str] = []  # unpaired and stray files: all reported, not only the first
    ds = dataset_from_args(args, spec, problems=listed)
    bar = Progress(len(ds), "reading", enabled=None if not args.json else False)
    report = inspect_dataset(ds, on_item=bar.update, problems=listed)
    bar.close()
    if args.json:
        print_json(report)
        return 1 if report["problems"] else 0
    sizes = ", ".join(f"{k} ({v})" for k, v in report["sizes"].items()) or "-"
    void = f"+ void label {spec.void_index}" if spec.void_index is not None else "no void label"
    print(f"dataset   {report['images_dir']}  ->  {report['masks_dir']}")
    print(f"images    {report['images']} paired ({report['read_ok']} read cleanly)")
    print(f"sizes     {sizes}")
    print(f"classes   {report['num_classes']} ({void}; preset/spec: {spec.name})")
    share = report["void_pixels"] / max(report["void_pixels"] + report["labelled_pixels"], 1)
    print(f"void      {report['void_pixels']} pixels ({100 * share:.2f} % of all)")
    print()
    rows = [
        [c["index"], c["name"], c["pixels"], round(100 * c["frequency"], 3), c["images"],
         round(c["median_frequency_weight"], 4)]
        for c in report["classes"]
    ]
    print(format_table(["idx", "class", "pixels", "% labelled", "images", "median-freq weight"], rows))
    seqs = report["sequences"]
    print(f"\n{len(seqs)} sequence(s) (file-name prefix before the last '_'):")
    print(format_table(["sequence", "frames"], [[k, v] for k, v in seqs.items()]))
    if report["problems"]:
        print(f"\n{len(report['problems'])} problem(s):")
        for msg in report["problems"]:
            print(f"  {msg}")
        return 1
    print("\nno problems found")
    return 0
