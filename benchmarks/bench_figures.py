"""The runtime/bench figures of issue 6: quantisation speed-ups (ENet) and achieved vs peak GFLOP/s (U-Net).

Everything a user would type runs as a subprocess (`edgeseg convert`, `edgeseg bench`, `edgeseg models`),
each measurement in a fresh process, at the same thread count:

1. ENet at 360x480: `edgeseg convert M.h5 --fp32 --int8 --onnx --onnx-int8 ...`, then `edgeseg bench`
   on the .h5 (Keras, a tf.function with TF's pools at --threads), the fp32/int8 .tflite (LiteRT +
   XNNPACK) and the fp32/int8 .onnx (ONNX Runtime CPU). Goals: int8 LiteRT p50 >= 6x Keras and
   >= 1.5x fp32 LiteRT; ONNX Runtime int8 >= 1.2x ONNX Runtime fp32.
2. U-Net (base_width 32, depth 4, 368x480, random weights) fp32 on LiteRT: analytical FLOPs
   (edgeseg.models.count_flops) / p50 = achieved GFLOP/s, next to the machine's measured peak:
   numpy float32 matmul (OpenBLAS at --threads) and a one-op TFLite FULLY_CONNECTED run by
   XNNPACK at --threads (the same engine). Goal: >= 50 % of peak.

Timings under load are meaningless: with --wait-idle the script first waits until no
`edgeseg train` process runs, and it records the load average before and after.

Usage: .venv/bin/python benchmarks/bench_figures.py [--enet-h5 M.h5] [--threads 2] [--rounds 2]
       [--out DIR] [--wait-idle] [--tiny]      (--tiny: small sizes, to test the script quickly)
Writes DIR/figures.json and DIR/figures.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from edgeseg.bench.system import machine_info, versions  # noqa: E402  (imports no TensorFlow)

EDGESEG = [sys.executable, "-m", "edgeseg"]
ENET_CANDIDATES = ("models/camvid-enet/camvid-enet.h5", "runs/camvid-enet/best.h5")

BUILD_MODEL = r"""
import json, sys
from edgeseg import models
name, h, w, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
opts = json.loads(sys.argv[5])
models.build  # registry import is lazy
from edgeseg._keras import keras
keras.utils.set_random_seed(0)
m = models.build(name, 11, (h, w), **opts)
m.save(path)
print(json.dumps({"flops": models.count_flops(m), "params": int(m.count_params())}))
"""

BUILD_MATMUL = r"""
import sys
from edgeseg._keras import tf
n = int(sys.argv[1])
w = tf.constant(tf.random.stateless_normal((n, n), seed=(1, 2)))
fn = tf.function(lambda x: tf.matmul(x, w)).get_concrete_function(tf.TensorSpec((n, n), tf.float32))
open(sys.argv[2], "wb").write(tf.lite.TFLiteConverter.from_concrete_functions([fn]).convert())
"""

PEAK_XNNPACK = r"""
import json, sys
import numpy as np
from edgeseg import runtime
from edgeseg.bench.latency import LatencyConfig, measure_invoke, summarize
path, n, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
be = runtime.load(path, threads=threads)
x = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
r = measure_invoke(be, x, LatencyConfig(warmup_runs=3, warmup_seconds=1.0, min_runs=10, min_seconds=3.0))
ops = [o["op_name"] for o in be._it._get_ops_details()] if hasattr(be, "_it") else None
print(json.dumps({"p50_ms": summarize(r.runs_ms)["p50"], "runs": len(r.runs_ms), "ops": ops,
                  "delegated": be.delegated_ops()}))
"""

PEAK_NUMPY = r"""
import json, sys, time
import numpy as np
try:
    from threadpoolctl import threadpool_info
except ImportError:  # optional: only names the BLAS and its thread count
    threadpool_info = list
n = int(sys.argv[1])
rng = np.random.default_rng(0)
a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
for _ in range(2):
    a @ b
ts = []
t_end = time.perf_counter() + 3.0
while len(ts) < 5 or time.perf_counter() < t_end:
    t0 = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t0)
ts.sort()
print(json.dumps({"p50_ms": 1e3 * ts[len(ts) // 2], "runs": len(ts),
                  "blas": [{k: p.get(k) for k in ("internal_api", "num_threads", "architecture")}
                           for p in threadpool_info()]}))
"""


def run(cmd: list[str], env: dict[str, str] | None = None, log: list[str] | None = None) -> str:
    """Run ``cmd``; return stdout; exit with its stderr tail on failure."""
    if log is not None:
        log.append(shlex.join(str(c) for c in cmd))
    r = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT,
                       env={**os.environ, **(env or {})})
    if r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {shlex.join(str(c) for c in cmd)}\n{r.stderr[-3000:]}")
    return r.stdout


def training_running() -> bool:
    r = subprocess.run(["pgrep", "-f", "edgeseg train"], capture_output=True, text=True, check=False)
    return bool(r.stdout.strip())


def loadavg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def bench(artifact: Path, backend: str, args: argparse.Namespace, out: Path, log: list[str],
          extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """One `edgeseg bench` measurement (its own process); the result JSON."""
    run([*EDGESEG, "bench", str(artifact), "--backend", backend, "--threads", str(args.threads),
         "--runs", str(args.runs), "--min-time", str(args.min_time), "--image", str(args.image),
         *extra, "--json-out", str(out)], log=log)
    return json.loads(out.read_text())


def enet_figures(args: argparse.Namespace, work: Path, log: list[str]) -> dict[str, Any]:
    """Convert the ENet and bench Keras / LiteRT fp32+int8 / ORT fp32+int8, alternating over rounds."""
    h5 = args.enet_h5
    if h5 is None and not args.tiny:
        h5 = next((ROOT / c for c in ENET_CANDIDATES if (ROOT / c).exists()), None)
    source = str(h5.relative_to(ROOT) if h5 and h5.is_relative_to(ROOT) else h5)
    if h5 is None:
        h, w = args.enet_size
        h5 = work / "enet_relu.h5"
        run([sys.executable, "-c", BUILD_MODEL, "enet", str(h), str(w), str(h5),
             json.dumps({"activation": "relu"})], log=log)
        source = "untrained enet activation=relu (random weights)"
    conv = work / "enet"
    cmd = [*EDGESEG, "convert", str(h5), "--fp32", "--int8", "--onnx", "--onnx-int8",
           "--calib-data", "samples/camvid", "--verify-data", "samples/camvid", "--out", str(conv), "--json", "--force"]
    if "untrained" in source:
        cmd += ["--input-size", "x".join(map(str, args.enet_size))]
    t0 = time.perf_counter()
    convert_out = run(cmd, log=log)
    convert_s = time.perf_counter() - t0
    stem = h5.stem
    arts = {"keras": (h5, "keras", ()),
            "litert_fp32": (conv / f"{stem}_fp32.tflite", "litert", ()),
            "litert_int8": (conv / f"{stem}_int8.tflite", "litert", ()),
            "ort_fp32": (conv / f"{stem}.onnx", "onnxruntime", ()),
            "ort_int8": (conv / f"{stem}_int8.onnx", "onnxruntime", ())}
    p50: dict[str, list[float]] = {k: [] for k in arts}
    load: dict[str, list[float]] = {k: [] for k in arts}
    last: dict[str, dict[str, Any]] = {}
    for i in range(args.rounds):
        for key, (path, backend, extra) in arts.items():
            load[key].append(round(os.getloadavg()[0], 2))
            r = bench(path, backend, args, work / f"enet_{key}_{i}.json", log, extra)
            p50[key].append(r["latency_ms"]["p50"])
            last[key] = r
    med = {k: statistics.median(v) for k, v in p50.items()}
    rows = {k: {"artifact": str(arts[k][0].relative_to(ROOT) if arts[k][0].is_relative_to(ROOT) else arts[k][0]),
                "runtime": arts[k][1], "p50_ms_rounds": p50[k], "loadavg1_rounds": load[k], "p50_ms": med[k],
                "p90_ms": last[k]["latency_ms"]["p90"], "size_bytes": last[k]["size_bytes"],
                "peak_rss_mb": last[k].get("peak_rss_mb"), "delegated_share": last[k].get("delegated_share")}
            for k in arts}
    ratios = {"litert_int8_vs_keras": med["keras"] / med["litert_int8"],
              "litert_int8_vs_litert_fp32": med["litert_fp32"] / med["litert_int8"],
              "ort_int8_vs_ort_fp32": med["ort_fp32"] / med["ort_int8"]}
    goals = {"litert_int8_vs_keras": 6.0, "litert_int8_vs_litert_fp32": 1.5, "ort_int8_vs_ort_fp32": 1.2}
    try:
        parity = json.loads(convert_out)
    except ValueError:
        parity = None
    return {"model": source, "convert_seconds": round(convert_s, 1), "convert": parity, "results": rows,
            "speedups": ratios, "goals": goals, "met": {k: ratios[k] >= g for k, g in goals.items()}}


def unet_figures(args: argparse.Namespace, work: Path, log: list[str]) -> dict[str, Any]:
    """U-Net fp32 on LiteRT: analytical GFLOPs / p50, against numpy and XNNPACK matmul peaks."""
    h, w = args.unet_size
    opts = {"base_width": args.unet_width, "depth": 4}
    h5 = work / f"unet_w{args.unet_width}.h5"
    built = json.loads(run([sys.executable, "-c", BUILD_MODEL, "unet", str(h), str(w), str(h5), json.dumps(opts)],
                           log=log).strip().splitlines()[-1])
    models_cmd = [*EDGESEG, "models", "unet", "--input-size", f"{h}x{w}", "-o", f"base_width={args.unet_width}",
                  "--json"]
    models_json = run(models_cmd, log=log)
    conv = work / "unet"
    run([*EDGESEG, "convert", str(h5), "--fp32", "--input-size", f"{h}x{w}", "--verify-data", "samples/camvid",
         "--out", str(conv), "--json", "--force"], log=log)
    tfl = conv / f"{h5.stem}_fp32.tflite"
    loads = []
    p50s = []
    for i in range(args.rounds):
        loads.append(round(os.getloadavg()[0], 2))
        p50s.append(bench(tfl, "litert", args, work / f"unet_{i}.json", log)["latency_ms"]["p50"])
    p50 = statistics.median(p50s)
    gflop = built["flops"] / 1e9
    achieved = gflop / (p50 / 1e3)
    n = args.matmul_n
    env = {k: str(args.threads) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    npk = json.loads(run([sys.executable, "-c", PEAK_NUMPY, str(n)], env=env, log=log).strip().splitlines()[-1])
    mm = work / f"matmul_{n}.tflite"
    run([sys.executable, "-c", BUILD_MATMUL, str(n), str(mm)], log=log)
    xnn = json.loads(run([sys.executable, "-c", PEAK_XNNPACK, str(mm), str(n), str(args.threads)],
                         log=log).strip().splitlines()[-1])
    mm_gflop = 2 * n ** 3 / 1e9
    peak_np, peak_xnn = mm_gflop / (npk["p50_ms"] / 1e3), mm_gflop / (xnn["p50_ms"] / 1e3)
    return {"model": f"unet base_width={args.unet_width} depth=4 at {h}x{w}, random weights, fp32 .tflite",
            "gflops_per_frame": gflop, "params": built["params"], "edgeseg_models": _models_row(models_json),
            "p50_ms_rounds": p50s, "loadavg1_rounds": loads, "p50_ms": p50, "achieved_gflops_per_s": achieved,
            "peak": {"numpy_matmul": {"n": n, "p50_ms": npk["p50_ms"], "gflops_per_s": peak_np, "blas": npk["blas"]},
                     "xnnpack_fully_connected": {"n": n, "p50_ms": xnn["p50_ms"], "gflops_per_s": peak_xnn,
                                                 "ops": xnn["ops"], "delegated": xnn["delegated"]}},
            "fraction_of_peak": {"numpy": achieved / peak_np, "xnnpack": achieved / peak_xnn},
            "goal": 0.5, "met": achieved / max(peak_np, peak_xnn) >= 0.5}


def _models_row(text: str) -> Any:
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()
    rows = data if isinstance(data, list) else data.get("models", data)
    return rows[0] if isinstance(rows, list) and rows else rows


def markdown(rep: dict[str, Any]) -> str:
    """The Figures section body (tables + commands)."""
    m, v = rep["machine"], rep["versions"]
    out = [f"Machine: {m['cpu']}, {m['usable_cores']}/{m['cores']} cores, {m['os']}, Python {m['python']}; "
           f"edgeseg {v['edgeseg']}, LiteRT {v['litert']}, ONNX Runtime {v['onnxruntime']}, "
           f"TensorFlow {v['tensorflow']}, numpy {v['numpy']}. Threads: {rep['threads']}. "
           f"Load average before {rep['loadavg_before']}, after {rep['loadavg_after']}.", ""]
    if "enet" in rep:
        e = rep["enet"]
        out += [f"ENet ({e['model']}), p50 of {rep['rounds']} alternating round(s):", "",
                "| artifact | runtime | p50 ms | p90 ms | size MB | delegated |", "|---|---|---:|---:|---:|---:|"]
        for r in e["results"].values():
            dshare = r["delegated_share"]
            out.append(f"| `{Path(r['artifact']).name}` | {r['runtime']} | {r['p50_ms']:.1f} | {r['p90_ms']:.1f} | "
                       f"{r['size_bytes'] / 1e6:.2f} | {'' if dshare is None else f'{100 * dshare:.0f} %'} |")
        out += ["", "| speed-up (p50) | measured | goal | met |", "|---|---:|---:|---|"]
        for k, val in e["speedups"].items():
            out.append(f"| {k.replace('_', ' ')} | {val:.2f}x | {e['goals'][k]:.1f}x | "
                       f"{'yes' if e['met'][k] else 'NO'} |")
        out.append("")
    if "unet" in rep:
        u = rep["unet"]
        pk = u["peak"]
        out += [f"U-Net ({u['model']}): {u['gflops_per_frame']:.1f} GFLOP/frame (count_flops), "
                f"p50 {u['p50_ms']:.1f} ms", "",
                "| | GFLOP/s | U-Net share |", "|---|---:|---:|",
                f"| U-Net fp32, LiteRT + XNNPACK | {u['achieved_gflops_per_s']:.1f} | |",
                f"| peak: numpy {pk['numpy_matmul']['n']}^3 float32 matmul (OpenBLAS) | "
                f"{pk['numpy_matmul']['gflops_per_s']:.1f} | {100 * u['fraction_of_peak']['numpy']:.0f} % |",
                f"| peak: TFLite FULLY_CONNECTED {pk['xnnpack_fully_connected']['n']}^3, XNNPACK | "
                f"{pk['xnnpack_fully_connected']['gflops_per_s']:.1f} | {100 * u['fraction_of_peak']['xnnpack']:.0f} % |",
                "", f"Goal >= 50 % of peak: {'met' if u['met'] else 'NOT met'}.", ""]
    out += ["Command: `" + rep["command"] + "`", ""]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--enet-h5", type=Path, default=None, help="default: models/camvid-enet, else runs/camvid-enet")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1, help="alternating rounds; the median p50 is reported")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--min-time", type=float, default=2.0)
    ap.add_argument("--unet-width", type=int, default=32)
    ap.add_argument("--matmul-n", type=int, default=2048)
    ap.add_argument("--only", choices=("enet", "unet"), default=None)
    ap.add_argument("--tiny", action="store_true", help="small sizes: test the script, not a measurement")
    ap.add_argument("--wait-idle", action="store_true", help="first wait until no `edgeseg train` runs")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "figures")
    args = ap.parse_args()
    args.enet_size, args.unet_size = ((64, 96), (64, 96)) if args.tiny else ((360, 480), (368, 480))
    if args.tiny:
        args.unet_width, args.matmul_n, args.runs, args.min_time = 8, 256, 5, 0.2
    args.image = ROOT / "samples" / "camvid" / "images" / sorted(os.listdir(ROOT / "samples/camvid/images"))[0]
    if args.wait_idle:  # no training, and the 1-minute load average below 1 (max. 15 minutes)
        deadline = time.time() + 900
        while (training_running() or os.getloadavg()[0] >= 1.0) and time.time() < deadline:
            time.sleep(15)
    work = Path(tempfile.mkdtemp(prefix="edgeseg_figures_"))
    log: list[str] = []
    rep: dict[str, Any] = {"command": shlex.join(["python", "benchmarks/bench_figures.py", *sys.argv[1:]]),
                           "machine": machine_info(), "versions": versions(), "threads": args.threads,
                           "rounds": args.rounds, "tiny": args.tiny, "loadavg_before": loadavg(),
                           "training_running_before": training_running()}
    if args.only in (None, "enet"):
        rep["enet"] = enet_figures(args, work, log)
    if args.only in (None, "unet"):
        rep["unet"] = unet_figures(args, work, log)
    rep["loadavg_after"] = loadavg()
    rep["training_running_after"] = training_running()
    rep["subprocess_commands"] = log
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "figures.json").write_text(json.dumps(rep, indent=2, default=str) + "\n")
    md = markdown(rep)
    (args.out / "figures.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
