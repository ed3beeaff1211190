"""Soak test: N consecutive inferences of an int8 ENet through edgeseg.runtime; RSS growth and drift.

Builds ``edgeseg.models.build('enet', 11, (360, 480, 3), activation='relu')``, saves it as .h5 and
converts it to int8 with ``edgeseg convert`` (calibrated on samples/camvid) unless ``--artifact``
names an existing .tflite (e.g. models/camvid-enet/*_int8.tflite). Then, in this process (which
never imports TensorFlow), it loads the artifact with ``edgeseg.runtime.load`` and runs it
``--runs`` times on a real preprocessed frame, sampling RSS (/proc/self/statm) every 100 runs.

Pass criteria (issue 10): RSS growth <= 5 MB between the end of the first 1,000 runs and the
end, and p50 of the last 1,000 within 10 % of the p50 of the first 1,000. With ``--threads 1`` the
inference runs in the calling thread, so its CPU time per run (``time.thread_time``) is reported
too: on a shared machine wall-clock p50 follows the other processes' load, CPU time much less.

    .venv/bin/python benchmarks/soak.py --out /tmp/soak [--runs 10000] [--threads 2] [--json soak.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "camvid"


def rss_mb() -> float:
    """Current resident set size (MB) from /proc/self/statm."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_artifact(out: Path) -> Path:
    """ENet (relu) -> .h5 -> int8 .tflite with ``edgeseg convert``; TensorFlow only in subprocesses."""
    out.mkdir(parents=True, exist_ok=True)
    h5 = out / "enet.h5"
    if not h5.exists():
        code = ("from edgeseg.models import build; "
                f"build('enet', 11, (360, 480, 3), activation='relu').save({str(h5)!r})")
        subprocess.run([sys.executable, "-c", code], check=True)
    tfl = out / "enet_int8.tflite"
    if not tfl.exists():
        subprocess.run([sys.executable, "-m", "edgeseg", "convert", str(h5), "--int8", "--calib-data", str(SAMPLES),
                        "--no-lint", "--out", str(out)], check=True)
    return tfl


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--artifact", type=Path, default=None, help="an existing int8 .tflite (default: build one)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/edgeseg-soak"), help="work folder for the artifact")
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--window", type=int, default=1_000, help="runs in the first/last window (default 1000)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--backend", default="litert")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args(argv)

    artifact = args.artifact or make_artifact(args.out)
    from edgeseg import runtime
    from edgeseg.bench.system import machine_info, versions
    from edgeseg.core.dataset import FolderDataset
    from edgeseg.core.presets import CAMVID
    from edgeseg.core.preprocess import preprocess

    be = runtime.load(artifact, args.backend, threads=args.threads)
    h, w = be.input_size
    frame = preprocess(FolderDataset(SAMPLES / "images", None, CAMVID, masks_required=False).read_image(0),
                       CAMVID, (h, w))[None]
    labels = be.predict_labels(frame) if hasattr(be, "predict_labels") else None
    times, cpu, rss = [], [], []  # wall ms, CPU ms of this thread (contention-robust), (run, MB)
    load_start = os.getloadavg()[0]
    rss_start = rss_mb()
    t_start = time.perf_counter()
    for i in range(args.runs):
        t0, c0 = time.perf_counter(), time.thread_time()
        be.run(frame)
        times.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.thread_time() - c0) * 1e3)
        if (i + 1) % 100 == 0:
            rss.append((i + 1, rss_mb()))
        if (i + 1) % 1000 == 0:
            print(f"{i + 1:6d} runs  p50(last 1000) {statistics.median(times[-1000:]):.2f} ms  "
                  f"RSS {rss[-1][1]:.1f} MB", file=sys.stderr, flush=True)
    wall = time.perf_counter() - t_start
    n = args.window
    first, last = statistics.median(times[:n]), statistics.median(times[-n:])
    rss_after_first = next(v for k, v in rss if k >= n)
    growth = rss[-1][1] - rss_after_first
    drift = (last - first) / first
    cpu_first, cpu_last = statistics.median(cpu[:n]), statistics.median(cpu[-n:])
    report = {
        "artifact": str(artifact), "backend": be.name, "threads": args.threads, "runs": args.runs,
        "input": [h, w], "output_labels_shape": None if labels is None else list(labels.shape),
        "p50_first_ms": round(first, 3), "p50_last_ms": round(last, 3), "p50_drift_pct": round(100 * drift, 2),
        "p99_ms": round(statistics.quantiles(times, n=100)[98], 3), "wall_s": round(wall, 1),
        "cpu_p50_first_ms": round(cpu_first, 3), "cpu_p50_last_ms": round(cpu_last, 3),
        "cpu_p50_drift_pct": round(100 * (cpu_last - cpu_first) / cpu_first, 2),
        "loadavg_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "rss_start_mb": round(rss_start, 1), "rss_after_first_window_mb": round(rss_after_first, 1),
        "rss_end_mb": round(rss[-1][1], 1), "rss_max_mb": round(max(v for _, v in rss), 1),
        "rss_growth_mb": round(growth, 2),
        "pass": {"rss_growth_le_5mb": growth <= 5.0, "p50_within_10pct": abs(drift) <= 0.10},
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_info(), "versions": versions(),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if all(report["pass"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
