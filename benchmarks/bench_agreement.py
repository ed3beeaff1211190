"""Agreement of `edgeseg bench` with LiteRT's own benchmark tool, and edgeseg's peak RSS on a .tflite.

Runs, back to back and alternating for ROUNDS rounds, on the same .tflite and thread count:
  A. python -m ai_edge_litert.tools.benchmark_litert_model --model M --num_threads T (CompiledModel, CPU)
  B. edgeseg bench M --backend litert-compiled --threads T   (the same engine)
  C. edgeseg bench M --backend litert --threads T            (the Interpreter + XNNPACK)
and reports the median over rounds of each one's median (p50) latency, B/A and C/A, and the
peak RSS of `edgeseg bench M` (a fresh process, no TensorFlow).

Usage: .venv/bin/python benchmarks/bench_agreement.py [--tflite M] [--threads 1] [--rounds 3] [--out DIR]
Without --tflite it builds a small conv encoder-decoder at 360x480 (needs TensorFlow, in a subprocess).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BUILD = r"""
import sys
from edgeseg._keras import keras, tf
keras.utils.set_random_seed(0)
inp = keras.Input((360, 480, 3))
x = inp
for ch in (16, 32, 64):
    x = keras.layers.Conv2D(ch, 3, strides=2, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(ch, 3, padding="same", activation="relu")(x)
for ch in (32, 16):
    x = keras.layers.Conv2DTranspose(ch, 3, strides=2, padding="same", activation="relu")(x)
x = keras.layers.Conv2DTranspose(11, 3, strides=2, padding="same")(x)
m = keras.Model(inp, x)
fn = tf.function(lambda t: m(t, training=False)).get_concrete_function(tf.TensorSpec((1, 360, 480, 3), tf.float32))
open(sys.argv[1], "wb").write(tf.lite.TFLiteConverter.from_concrete_functions([fn], m).convert())
"""


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return r


def litert_tool(model: Path, threads: int, runs: int, out: Path) -> float:
    """Median ms from LiteRT's benchmark tool (its JSON rounds to 0.01 ms)."""
    _run([sys.executable, "-m", "ai_edge_litert.tools.benchmark_litert_model", f"--model={model}",
          f"--num_threads={threads}", f"--num_runs={runs}", "--warmup_runs=5", f"--result_json={out}"])
    return float(json.loads(out.read_text())["latency"]["median_ms"])


def edgeseg_bench(model: Path, backend: str, threads: int, runs: int, out: Path) -> dict:
    """The result JSON of `edgeseg bench`."""
    _run([sys.executable, "-m", "edgeseg", "bench", str(model), "--backend", backend, "--threads", str(threads),
          "--runs", str(runs), "--min-time", "1", "--json-out", str(out)])
    return json.loads(out.read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tflite", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--out", type=Path, default=None, help="write agreement.json here")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="edgeseg_agree_"))
    model = args.tflite
    if model is None:
        model = tmp / "convnet_360x480.tflite"
        _run([sys.executable, "-c", BUILD, str(model)])
    tool, compiled, interp, rss = [], [], [], []
    for i in range(args.rounds):
        tool.append(litert_tool(model, args.threads, args.runs, tmp / f"tool{i}.json"))
        r = edgeseg_bench(model, "litert-compiled", args.threads, args.runs, tmp / f"c{i}.json")
        compiled.append(r["latency_ms"]["p50"])
        r = edgeseg_bench(model, "litert", args.threads, args.runs, tmp / f"i{i}.json")
        interp.append(r["latency_ms"]["p50"])
        rss.append(r["peak_rss_mb"])
    a, b, c = (statistics.median(v) for v in (tool, compiled, interp))
    report = {"model": str(model), "size_bytes": model.stat().st_size, "threads": args.threads,
              "rounds": args.rounds, "benchmark_litert_model_p50_ms": tool, "edgeseg_compiled_p50_ms": compiled,
              "edgeseg_interpreter_p50_ms": interp, "median_ms": {"tool": a, "edgeseg_compiled": b,
                                                                  "edgeseg_interpreter": c},
              "ratio_compiled_vs_tool": b / a,
              "paired_ratios_compiled_vs_tool": [y / x for x, y in zip(tool, compiled)], "ratio_interpreter_vs_tool": c / a,
              "within_5pct": abs(b / a - 1) <= 0.05, "edgeseg_peak_rss_mb": max(rss)}
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "agreement.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
