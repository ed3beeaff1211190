"""A/B of the ONNX Runtime int8 layout rewrites (edgeseg.models.deploy.for_onnxruntime_int8).

Converts one Keras model to `onnx-int8` twice, with and without the rewrites (same calibration
frames), and times both next to the fp32 `.onnx` in one process: ONNX Runtime CPU, graph
optimisation `all`, alternating rounds of timed runs on a fixed input. Also counts the
Transpose/MaxPool nodes ORT leaves in each optimised int8 graph.

Usage:
    .venv/bin/python benchmarks/ort_layout_ab.py [--h5 models/camvid-enet/camvid-enet.h5]
        [--onnx models/camvid-enet/camvid-enet.onnx] [--calib samples/camvid] [--threads 2]
        [--rounds 5] [--runs 30] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _convert(h5: Path, out: Path, calib: Path, rewrite: bool) -> Path:
    import edgeseg.models.deploy as deploy
    from edgeseg.export import convert_model

    original = deploy.for_onnxruntime_int8
    if not rewrite:
        deploy.for_onnxruntime_int8 = lambda model: (model, [])
    try:
        (r,) = convert_model(h5, ["onnx-int8"], out, calib=calib, calib_count=50, verify_data=calib)
    finally:
        deploy.for_onnxruntime_int8 = original
    return Path(r["path"])


def _session(path: Path, threads: int, optimised: Path | None = None):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.log_severity_level = threads, 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if optimised is not None:
        so.optimized_model_filepath = str(optimised)
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--h5", type=Path, default=REPO / "models" / "camvid-enet" / "camvid-enet.h5")
    p.add_argument("--onnx", type=Path, default=REPO / "models" / "camvid-enet" / "camvid-enet.onnx",
                   help="the fp32 .onnx of the same model")
    p.add_argument("--calib", type=Path, default=REPO / "samples" / "camvid")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    import numpy as np
    import onnx

    from edgeseg.bench.system import machine_info, versions

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = {"fp32": args.onnx, "int8 without rewrites": _convert(args.h5, work / "old", args.calib, False),
                 "int8 with rewrites": _convert(args.h5, work / "new", args.calib, True)}
        graphs, sessions = {}, {}
        for name, path in files.items():
            opt = work / f"{abs(hash(name))}.opt.onnx"
            sessions[name] = _session(path, args.threads, opt)
            ops = collections.Counter(n.op_type for n in onnx.load(str(opt)).graph.node)
            graphs[name] = {k: ops[k] for k in ("Transpose", "MaxPool", "NhwcMaxPool", "QLinearConv", "ConvTranspose")}
        shape = [d if isinstance(d, int) else 1 for d in sessions["fp32"].get_inputs()[0].shape]
        x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
        for s in sessions.values():
            for _ in range(10):
                s.run(None, {s.get_inputs()[0].name: x})
        p50: dict[str, list[float]] = {k: [] for k in sessions}
        for _ in range(args.rounds):
            for name, s in sessions.items():
                feed = {s.get_inputs()[0].name: x}
                times = []
                for _ in range(args.runs):
                    t = time.perf_counter()
                    s.run(None, feed)
                    times.append((time.perf_counter() - t) * 1000)
                p50[name].append(statistics.median(times))
    med = {k: statistics.median(v) for k, v in p50.items()}
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]), "model": str(args.h5), "threads": args.threads,
        "p50_ms": {k: round(v, 2) for k, v in med.items()}, "p50_ms_rounds": {k: [round(t, 2) for t in v]
                                                                             for k, v in p50.items()},
        "fp32_over_int8": {k: round(med["fp32"] / med[k], 3) for k in med if k != "fp32"},
        "optimised_graph_ops": graphs, "machine": machine_info(), "versions": versions(),
    }
    print("| graph | p50 ms | fp32 / this | Transpose | MaxPool (NCHW) | NhwcMaxPool | ConvTranspose |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for k, v in med.items():
        g = graphs[k]
        print(f"| {k} | {v:.2f} | {med['fp32'] / v:.2f}x | {g['Transpose']} | {g['MaxPool']} | {g['NhwcMaxPool']} "
              f"| {g['ConvTranspose']} |")
    print(f"\n`{result['command']}`")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
