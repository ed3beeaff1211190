"""Reproduce benchmarks/RESULTS.md from the shipped models: the bench matrix of every
models/camvid-*/ model on CamVid val (every format x precision x runtime available here).

Usage: .venv/bin/python benchmarks/camvid.py [--data ../shared/camvid] [--threads 2] [--models enet ...] [--targets T1,T2]
Writes benchmarks/results/<model>/ (matrix.md/.json/.csv, plots, overlays, run.json) and
benchmarks/RESULTS.md, with the machine, versions and the exact commands at the top. With --models,
only those are measured again; the sections of the other shipped models are kept from their last
run (benchmarks/results/<model>/run.json says when and how).
"""

from __future__ import annotations

import argparse
import json
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
    ap.add_argument("--targets", default=None,
                    help="only these convert targets, e.g. fp32,int8,onnx (default: all; int16x8 runs on "
                         "TFLite's reference kernels and takes seconds per frame on the bigger models)")
    args = ap.parse_args()
    if not (args.data / "val").is_dir():
        sys.exit(f"error: {args.data}: CamVid (SegNet layout with val/) not found; pass --data")
    shipped = sorted(p for p in (REPO / "models").glob("camvid-*") if p.is_dir())
    dirs = shipped
    if args.models:
        dirs = [d for d in shipped if d.name.removeprefix("camvid-") in args.models]
    if not dirs:
        sys.exit("error: no shipped models found under models/camvid-*")
    runs = {}
    for d in dirs:
        h5 = d / f"{d.name}.h5"
        out = REPO / "benchmarks" / "results" / d.name
        cmd = ["edgeseg", "bench", str(h5.relative_to(REPO)), "--matrix", "--data", str(args.data), "--split", "val",
               "--calib-data", str(args.data), "--calib-split", "train", "--threads", args.threads,
               "--out", str(out.relative_to(REPO))]
        if args.targets:
            cmd += ["--targets", args.targets]
        print(f"$ {shlex.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "edgeseg", *cmd[1:]], cwd=REPO, check=True)
        run = {"command": shlex.join(cmd), "wall_s": round(time.perf_counter() - t0),
               "measured_utc": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M}", "threads": args.threads}
        (out / "run.json").write_text(json.dumps(run, indent=1) + "\n")
        runs[d.name] = run
    sections, commands = [], []
    for d in shipped:
        out = REPO / "benchmarks" / "results" / d.name
        if not (out / "matrix.md").is_file() or not (out / "run.json").is_file():
            continue
        run = runs.get(d.name) or json.loads((out / "run.json").read_text())
        commands.append(f"# {run['measured_utc']} UTC\n{run['command']}")
        sections.append(f"## {d.name}\n\n(measured {run['measured_utc']} UTC, {run['wall_s']} s wall; plots and "
                        f"overlays in `benchmarks/results/{d.name}/`)\n\n{(out / 'matrix.md').read_text()}\n")
    info, vers = machine_info(), versions()
    head = [
        "# Results: the shipped CamVid models on CamVid val (101 frames, 360x480, void ignored)",
        "",
        "> Models shipped under the held-out protocol (docs/train.md) trained on val too: the mIoU columns "
        "here show what quantisation and export cost, not quality. Quality is each model's held-out-sequence "
        "mIoU (`models/camvid-*/heldout.json`, the README's zoo table from `benchmarks/zoo_table.py`). "
        "Sections measured before 2026-12-01 (session 6) are of the previous weights, chosen on val: their "
        "latency still describes the same graphs, their mIoU the old weights.",
        "",
        "Reproduce with `.venv/bin/python benchmarks/camvid.py` (every shipped model) or "
        "`--models NAME ...` (only those; the other sections are kept from their last run). The runs:",
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
