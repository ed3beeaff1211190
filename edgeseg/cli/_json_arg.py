"""``--json`` as a plain flag (JSON on stdout) and ``--json-out FILE``, accepting the old ``--json FILE``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from edgeseg.errors import UsageError

STDOUT = "-"
MODEL_SUFFIXES = (".tflite", ".onnx", ".h5", ".keras")


def add_json_args(group: Any) -> None:
    """Add ``--json`` (a flag, as in every command) and ``--json-out FILE`` to a parser or group."""
    group.add_argument("--json", action="store_true",
                       help="print the results as JSON on stdout instead of tables")
    group.add_argument("--json-out", type=Path, default=None, metavar="FILE",
                       help="also write the results as JSON to FILE ('-': stdout, same as --json)")


def split_old_json_file(args: argparse.Namespace, positional: str = "artifacts") -> None:
    """The old ``--json FILE`` / ``--json -``: with ``--json``, ``-`` means stdout, and a positional that cannot
    be a model (a name ending in ``.json``, or a path that does not exist and has no model suffix) is taken as
    ``--json-out`` (:func:`legacy_note` says so once it is written); real artifacts stay artifacts."""
    if not args.json:
        return
    kept, files = [], []
    for p in getattr(args, positional):
        if str(p) == STDOUT:
            continue
        name = str(p).lower()
        if name.endswith(".json") or (not Path(p).exists() and not name.endswith(MODEL_SUFFIXES)):
            files.append(Path(p))
        else:
            kept.append(p)
    if len(files) > 1 or (files and args.json_out is not None):
        raise UsageError(f"--json is a flag now (JSON on stdout); give the file as --json-out FILE, not "
                         f"{' '.join(map(str, files))}")
    if files:
        args.json_out, args.json, args.json_legacy = files[0], False, True
    setattr(args, positional, kept)


def legacy_note(args: argparse.Namespace) -> None:
    """After the JSON file was written for the old ``--json FILE``: say what the flag is called now."""
    if getattr(args, "json_legacy", False):
        sys.stderr.write(f"note: '--json FILE' is now '--json-out FILE' (wrote {args.json_out})\n")


def json_targets(args: argparse.Namespace) -> list[Path]:
    """Where the JSON goes: ``Path('-')`` (stdout) and/or a file; empty without JSON output."""
    out = getattr(args, "json_out", None)
    targets = [Path(STDOUT)] if args.json or (out is not None and str(out) == STDOUT) else []
    return targets + ([out] if out is not None and str(out) != STDOUT else [])


def json_to_stdout(args: argparse.Namespace) -> bool:
    """Whether stdout carries the JSON (and nothing else)."""
    return any(str(t) == STDOUT for t in json_targets(args))
