"""Argument helpers shared by subcommands: dataset references, specs, output."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from edgeseg.core.dataset import FolderDataset, only_sequences, resolve_dataset
from edgeseg.core.presets import PRESETS, get_preset
from edgeseg.core.spec import Spec
from edgeseg.errors import SpecError, UsageError


def add_spec_args(p: argparse.ArgumentParser) -> None:
    """``--preset`` / ``--spec``: the classes, palette and normalisation to use."""
    g = p.add_argument_group("classes")
    g.add_argument("--preset", default=None, choices=sorted(PRESETS),
                   help="built-in dataset preset (default: camvid)")
    g.add_argument("--spec", type=Path, default=None, metavar="JSON",
                   help="a spec JSON file (classes, void index, palette, mean/std) instead of a preset")
    g.add_argument("--label-remap", default=None, metavar="A:B,...",
                   help="map raw mask values before use, e.g. 1:0,2:1,3:2 for Oxford-IIIT Pet trimaps")


def spec_from_args(args: argparse.Namespace) -> Spec:
    """The spec chosen by :func:`add_spec_args` flags."""
    if getattr(args, "spec", None) is not None:
        if args.preset is not None:
            raise UsageError("give --preset or --spec, not both")
        try:
            spec = Spec.from_json(Path(args.spec).read_text(encoding="utf-8"))
        except OSError as exc:
            raise SpecError(f"{args.spec}: cannot read spec ({exc.strerror})") from None
    else:
        spec = get_preset(getattr(args, "preset", None) or "camvid")
    remap = getattr(args, "label_remap", None)
    return spec.with_(label_remap=parse_remap(remap)) if remap else spec


def parse_remap(text: str) -> dict[int, int]:
    """``"1:0,2:1"`` -> ``{1: 0, 2: 1}`` (raw mask value -> class index, both 0..255)."""
    out: dict[int, int] = {}
    for part in text.split(","):
        try:
            a, b = (int(v) for v in part.split(":"))
        except ValueError:
            raise UsageError(f"--label-remap wants pairs like 1:0,2:1, got {part!r}") from None
        if not (0 <= a <= 255 and 0 <= b <= 255):
            raise UsageError(f"--label-remap values must be 0..255, got {part!r}")
        out[a] = b
    return out


def add_dataset_args(p: argparse.ArgumentParser, *, positional: bool = True, flag: str = "data",
                     required: bool = True) -> None:
    """A dataset reference: a folder (``images/``+``masks/`` or SegNet layout + ``--split``)
    or ``--images DIR --masks DIR``."""
    if positional:
        p.add_argument("dataset", nargs="?" if not required else None, default=None,
                       help="dataset folder: images/ + masks/, or SegNet layout (<split>/, <split>annot/)")
    else:
        p.add_argument(f"--{flag}", dest="dataset", default=None, metavar="DATASET",
                       help="dataset folder: images/ + masks/, or SegNet layout (<split>/, <split>annot/)")
    p.add_argument("--split", default=None, help="split of a SegNet-layout dataset, e.g. train, val "
                                                 "(default: its only split; required when it has several)")
    p.add_argument("--images", type=Path, default=None, metavar="DIR", help="image folder (with --masks)")
    p.add_argument("--masks", type=Path, default=None, metavar="DIR", help="label-map folder (with --images)")
    p.add_argument("--sequences", default=None, metavar="PREFIX[,PREFIX]",
                   help="only the frames whose file name starts with a prefix: whole sequences, e.g. the one a "
                        "model was validated on with train --val-holdout (default: all frames)")


def dataset_from_args(args: argparse.Namespace, spec: Spec, masks_required: bool = True,
                      problems: list[str] | None = None) -> FolderDataset:
    """Open the dataset named by :func:`add_dataset_args` flags (``problems``: collect, don't raise)."""
    if args.images is None and args.masks is not None:
        raise UsageError("--masks needs --images")
    ds = resolve_dataset(args.dataset, spec, split=args.split, images=args.images, masks=args.masks,
                         masks_required=masks_required, problems=problems)
    return only_sequences(ds, args.sequences) if getattr(args, "sequences", None) else ds


def print_json(obj: Any) -> None:
    """JSON to stdout (NaN becomes null)."""
    from edgeseg.bench.report import json_safe

    sys.stdout.write(json.dumps(json_safe(obj), indent=2, sort_keys=False) + "\n")
