"""Reproduce benchmarks/RESULTS.md from the shipped models: the bench matrix of every
models/camvid-*/ model on CamVid val (every format x precision x runtime available here).

Usage: .venv/bin/python benchmarks/camvid.py [--data ../shared/camvid] [--threads 2] [--models enet ...]
Writes benchmarks/results/<model>/ (matrix.md/.json/.csv, plots, overlays) and benchmarks/RESULTS.md,
with the machine, versions and the exact commands at the top.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgeseg.bench.system import machine_info, versions  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "camvid")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--models", nargs="*", default=None, help="names like enet (default: every models/camvid-*)")
    args = ap.parse_args()
    if not (args.data / "val").is_dir():
        sys.exit(f"error: {args.data}: CamVid (SegNet layout with val/) not found; pass --data")
    dirs = sorted(p for p in (REPO / "models").glob("camvid-*") if p.is_dir())
    if args.models:
        dirs = [d for d in dirs if d.name.removeprefix("camvid-") in args.models]
    if not dirs:
        sys.exit("error: no shipped models found under models/camvid-*")
    sections, commands = [], []
    for d in dirs:
        h5 = d / f"{d.name}.h5"
        out = REPO / "benchmarks" / "results" / d.name
        cmd = ["edgeseg", "bench", str(h5.relative_to(REPO)), "--matrix", "--data", str(args.data), "--split", "val",
               "--calib-data", str(args.data), "--calib-split", "train", "--threads", args.threads,
               "--out", str(out.relative_to(REPO))]
        commands.append(shlex.join(cmd))
        print(f"$ {commands[-1]}", flush=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "edgeseg", *cmd[1:]], cwd=REPO, check=True)
        took = time.perf_counter() - t0
        table = (out / "matrix.md").read_text()
        sections.append(f"## {d.name}\n\n({took:.0f} s wall; plots and overlays in "
                        f"`benchmarks/results/{d.name}/`)\n\n{table}\n")
    info, vers = machine_info(), versions()
    head = [
        "# Results: the shipped CamVid models on CamVid val (101 frames, 360x480, void ignored)",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `.venv/bin/python benchmarks/camvid.py "
        f"--threads {args.threads}`, which ran:",
        "",
        "```",
        *commands,
        "```",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()),
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in vers.items() if v),
        "",
    ]
    (REPO / "benchmarks" / "RESULTS.md").write_text("\n".join(head) + "\n" + "\n".join(sections))
    print(f"wrote {REPO / 'benchmarks' / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
