"""The README's zoo table: held-out-sequence mIoU (from each model's heldout.json) beside latency of every
shipped model measured in ONE `edgeseg bench` run (Keras .h5 and int8 .tflite, 2 threads, same hour).

Usage: .venv/bin/python benchmarks/zoo_table.py [--threads 2] [--out benchmarks/results/zoo_latency.json]
Prints the markdown table; the JSON holds the bench rows, machine, versions, date and command.
Run it on a quiet machine (no training): latency ratios are only comparable within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EDGESEG = REPO / ".venv" / "bin" / "edgeseg"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="2")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "zoo_latency.json")
    args = ap.parse_args()
    folders = sorted(p for p in (REPO / "models").glob("camvid-*") if (p / "heldout.json").is_file())
    files = [f"models/{p.name}/{p.name}{suffix}" for p in folders for suffix in (".h5", "_int8.tflite")]
    raw = args.out.with_suffix(".bench.json")
    cmd = [str(EDGESEG), "bench", *files, "--threads", args.threads, "--json-out", str(raw.relative_to(REPO))]
    started = datetime.now(timezone.utc)
    subprocess.run(cmd, check=True, cwd=REPO)
    bench = json.loads(raw.read_text())
    rows = {r["artifact"]: r for r in bench["results"]}
    table = ["| model | held-out mIoU fp32 / int8 (0006R0) | int8 drop | int8 p50 | Keras p50 | int8 size | files |",
             "|---|---|---|---|---|---|---|"]
    out = []
    for p in folders:
        held = json.loads((p / "heldout.json").read_text())
        fp32, int8 = held["held_out_model"]["rows"]
        k, q = rows[f"models/{p.name}/{p.name}.h5"], rows[f"models/{p.name}/{p.name}_int8.tflite"]
        h, w = json.loads((p / "manifest.json").read_text())["model"]["input_size"]
        out.append({"model": p.name, "input": [h, w], "held_out_fp32_miou_pct": fp32["miou_pct"],
                    "held_out_int8_miou_pct": int8["miou_pct"], "int8_p50_ms": q["latency_ms"]["p50"],
                    "keras_p50_ms": k["latency_ms"]["p50"], "int8_bytes": q["size_bytes"]})
        table.append(f"| [{p.name}](models/{p.name}/MODEL_CARD.md) ({h}x{w}) | {fp32['miou_pct']:.2f} / "
                     f"{int8['miou_pct']:.2f} | {fp32['miou_pct'] - int8['miou_pct']:.2f} | "
                     f"{q['latency_ms']['p50']:.1f} ms | {k['latency_ms']['p50']:.1f} ms | "
                     f"{q['size_bytes'] / 1e6:.2f} MB | `.h5`, int8 `.tflite`, `.onnx` |")
    shown = " ".join(shlex.quote(c) for c in ["edgeseg", *cmd[1:]])
    doc = {"what": "zoo latency (one bench run) + held-out mIoU", "date_utc": started.isoformat(timespec="seconds"),
           "command": "python benchmarks/zoo_table.py " + " ".join(f"--threads {args.threads}".split()),
           "bench_command": shown, "load_average_at_start": os.getloadavg(), "rows": out,
           "machine": bench.get("machine"), "versions": bench.get("versions")}
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print("\n".join(table))
    print(f"\n{started:%Y-%m-%d %H:%M} UTC, {args.threads} threads: {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
