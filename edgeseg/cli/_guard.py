"""``edgeseg convert --max-miou-drop``: flags, the latency probe (edgeseg.bench) and the guard's table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from edgeseg.core.table import format_table
from edgeseg.export.registry import guarded_targets

#: Short latency measurement per guard step (benchmark_model's method, fewer runs).
GUARD_RUNS = 10


def add_guard_args(p: argparse.ArgumentParser) -> None:
    """``--max-miou-drop`` and ``--integer-only``."""
    g = p.add_argument_group(f"accuracy guard ({', '.join(guarded_targets())})")
    g.add_argument("--max-miou-drop", type=float, default=None, metavar="D",
                   help="largest allowed mIoU drop vs Keras on --val-data, in points; beyond it, keep the "
                        "worst layers in float (1, 2, 4, ...) or use int16 activations until it fits")
    g.add_argument("--integer-only", action="store_true",
                   help="with --max-miou-drop: no float fallback (only int16x8 may be tried)")


def check_guard_args(plan: Any, targets: list[str], args: argparse.Namespace) -> None:
    """Refuse guard flags that cannot work, before anything is converted."""
    from edgeseg.errors import UsageError

    if args.max_miou_drop is None:
        if args.integer_only:
            raise UsageError("--integer-only needs --max-miou-drop D")
        return
    from edgeseg.export.guard import check_guard

    check_guard(targets, plan.verification is not None and plan.verification.has_masks, args.max_miou_drop)


def latency_probe(threads: int | None) -> Any:
    """``path -> p50 ms`` of a short invoke-only measurement (edgeseg.bench.latency)."""
    import numpy as np

    from edgeseg import runtime
    from edgeseg.bench.latency import LatencyConfig, measure_invoke, summarize

    config = LatencyConfig(warmup_runs=2, warmup_seconds=0.1, min_runs=GUARD_RUNS, min_seconds=0.2)

    def p50(path: Path) -> float:
        with runtime.load(path, threads=threads) as be:
            info = be.input
            x = np.zeros([d if d and d > 0 else 1 for d in info.shape], dtype=info.dtype)
            return summarize(measure_invoke(be, x, config).runs_ms)["p50"]

    return p50


def run_guard(plan: Any, results: list[dict[str, Any]], args: argparse.Namespace, err: TextIO) -> list[Any]:
    """Guard the int8 results in place; returns the reports."""
    from edgeseg.export.guard import guard_results

    return guard_results(plan, results, args.max_miou_drop, integer_only=args.integer_only,
                         latency=latency_probe(args.threads), threads=args.threads,
                         on_step=lambda s: err.write(s + "\n"))


def guard_table(reports: list[Any]) -> str:
    """One row per step of every guarded artifact; the chosen step is marked."""
    rows = []
    for rep in reports:
        for s in rep.steps:
            lat = "-" if s["latency_p50_ms"] is None else f"{s['latency_p50_ms']:.3f}"
            mark = "<- chosen" if s["step"] == rep.chosen else ""
            rows.append([rep.target, s["step"], s["config"], f"{s['miou']:.2f}", f"{s['drop']:+.2f}",
                         s["size_bytes"], lat, mark])
    return format_table(["target", "step", "configuration", "mIoU %", "drop (pts)", "bytes", "p50 ms", ""], rows)


def guard_failures(reports: list[Any]) -> list[str]:
    """One line per guarded artifact that stayed above its budget."""
    out = []
    for rep in reports:
        if not rep.met:
            kind = "integer-only configuration" if rep.integer_only else "configuration"
            best = rep.steps[rep.chosen]
            out.append(f"{rep.target}: no {kind} keeps the mIoU drop within {rep.max_drop:g} points; best drop "
                       f"{best['drop']:.2f} ({best['config']}, kept)")
    return out
