"""Shared by the per-part benchmarks (augment_speed.py, loss_speed.py): process CPU and wall ms per call,
arms measured in alternation (the machine's speed drifts), a median table and a JSON record."""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

Timing = tuple[float, float]  # (CPU ms, wall ms) per call


def per_call(fn: Callable[[], Any], reps: int, warmup: int) -> Timing:
    """``fn`` called ``warmup`` times untimed, then ``reps`` times: CPU and wall ms per call."""
    for _ in range(warmup):
        fn()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.process_time() - cpu) / reps * 1e3, (time.perf_counter() - wall) / reps * 1e3


def alternate(arms: dict[str, Callable[[], Timing]], rounds: int) -> dict[str, list[Timing]]:
    """Each arm once per round, in order, ``rounds`` times; progress on stderr."""
    runs: dict[str, list[Timing]] = {name: [] for name in arms}
    for r in range(rounds):
        for name, run in arms.items():
            runs[name].append(run())
            print(f"round {r + 1}: {name} cpu {runs[name][-1][0]:.2f} ms, wall {runs[name][-1][1]:.2f} ms",
                  file=sys.stderr, flush=True)
    return runs


def table(runs: dict[str, list[Timing]], units: dict[str, str] | None = None) -> str:
    """Markdown: median CPU and wall ms per arm (with a unit column when given)."""
    unit_head, unit_rule = ("| unit ", "|---") if units else ("", "")
    lines = [f"| arm {unit_head}| CPU ms (median) | wall ms (median) |", f"|---{unit_rule}|---:|---:|"]
    for name, v in runs.items():
        unit = f"| {units[name]} " if units else ""
        lines.append(f"| {name} {unit}| {statistics.median(x[0] for x in v):.2f} | "
                     f"{statistics.median(x[1] for x in v):.2f} |")
    return "\n".join(lines)


def write(out: Path, runs: dict[str, list[Timing]], **fields: Any) -> None:
    """JSON: the command, ``fields``, every measurement, the machine and the versions."""
    from edgeseg.bench.system import machine_info, versions
    from edgeseg.core.fileio import write_text_atomic

    result = {"command": " ".join([Path(sys.executable).name, *sys.argv]), **fields,
              "cpu_ms": {k: [round(x[0], 3) for x in v] for k, v in runs.items()},
              "wall_ms": {k: [round(x[1], 3) for x in v] for k, v in runs.items()},
              "machine": machine_info(), "versions": versions()}
    write_text_atomic(out, json.dumps(result, indent=2) + "\n")
