"""``--json`` as a plain flag (JSON on stdout) and ``--json-out FILE``, accepting the old ``--json FILE``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

STDOUT = "-"


def add_json_args(group: Any) -> None:
    """Add ``--json`` (a flag, as in every command) and ``--json-out FILE`` to a parser or group."""
    group.add_argument("--json", action="store_true",
                       help="print the results as JSON on stdout instead of tables")
    group.add_argument("--json-out", type=Path, default=None, metavar="FILE",
                       help="also write the results as JSON to FILE ('-': stdout, same as --json)")


def split_old_json_file(args: argparse.Namespace, positional: str = "artifacts") -> None:
    """The old ``--json FILE`` / ``--json -``: with ``--json``, a positional ending in ``.json`` (never a
    model file) or ``-`` is taken as ``--json-out`` (with a note), not as an artifact."""
    if not args.json:
        return
    kept = []
    for p in getattr(args, positional):
        if str(p) == STDOUT:
            continue
        if str(p).lower().endswith(".json") and args.json_out is None:
            sys.stderr.write(f"note: '--json FILE' is now '--json-out FILE'; writing {p}\n")
            args.json_out, args.json = Path(p), False
            continue
        kept.append(p)
    setattr(args, positional, kept)


def json_targets(args: argparse.Namespace) -> list[Path]:
    """Where the JSON goes: ``Path('-')`` (stdout) and/or a file; empty without JSON output."""
    out = getattr(args, "json_out", None)
    targets = [Path(STDOUT)] if args.json or (out is not None and str(out) == STDOUT) else []
    return targets + ([out] if out is not None and str(out) != STDOUT else [])


def json_to_stdout(args: argparse.Namespace) -> bool:
    """Whether stdout carries the JSON (and nothing else)."""
    return any(str(t) == STDOUT for t in json_targets(args))
