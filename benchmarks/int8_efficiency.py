"""How close each zoo model's int8 LiteRT graph runs to this machine's dense-conv int8 rate, per model and stage.

1. Dense rate: stacks of four 3x3 conv+ReLU layers at widths 32-256 (Keras, converted to fp32 and to
   full-integer int8 TFLite), timed with ai-edge-litert (XNNPACK) at --threads, and as Keras tf.function.
2. Zoo models: the shipped int8 .tflite of models/camvid-* (their .h5 for Keras and an fp32 .tflite
   converted here) and the architectures in --new, built with random weights at --size and converted
   (int8 uint8-I/O, calibrated on samples/camvid, like the shipped ones). Whole-model p50 of Keras,
   fp32 and int8 in the same run.
3. Per op: LiteRT 2.3's Python API has no op profiler (the Interpreter exposes none; its
   tools/benchmark_litert_model.py times whole runs), so every op of an int8 graph is cut out into a
   one-op .tflite with the same tensors, weights and quantisation, and timed alone on XNNPACK. Ops are
   grouped by stage: output stride and encoder ("enc", up to the last op at the deepest stride) or
   decoder ("dec"); QUANTIZE/DEQUANTIZE at the edges are "io".

GOPs are 2 x multiply-accumulates of CONV_2D / DEPTHWISE_CONV_2D / TRANSPOSE_CONV / FULLY_CONNECTED,
counted from the TFLite tensor shapes (as edgeseg.models.count_flops). The machine is shared: every
measurement is repeated in --rounds alternating rounds and the median of the round p50s is reported;
ratios within one run are what counts.

Usage: .venv/bin/python benchmarks/int8_efficiency.py [--rounds 5] [--threads 2] [--new rtseg]
       [--zoo camvid-enet camvid-unet camvid-linknet] [--out benchmarks/results/int8_efficiency.json] [--tiny]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from edgeseg.bench.system import machine_info, versions  # noqa: E402
from int8_opcut import op_models  # noqa: E402

SAMPLES = ROOT / "samples" / "camvid"
DENSE = {32: (90, 120), 64: (90, 120), 128: (45, 60), 256: (23, 30)}  # width -> size (1-3 GOP a stack)


def _rate(gop: float, ms: float) -> float:
    return gop / (ms / 1e3)


def _input(dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(0)
    if np.issubdtype(np.dtype(dtype), np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _timer(backend: Any) -> Callable[[int, float], list[float]]:
    """A function timing ``backend.invoke`` until ``runs`` runs and ``seconds`` have passed (ms each)."""
    info = backend.input
    backend.set_input(_input(info.dtype, tuple(1 if d < 0 else d for d in info.shape)))
    for _ in range(2):
        backend.invoke()

    def timed(runs: int, seconds: float) -> list[float]:
        out: list[float] = []
        end = time.perf_counter() + seconds
        while len(out) < runs or time.perf_counter() < end:
            t0 = time.perf_counter()
            backend.invoke()
            out.append((time.perf_counter() - t0) * 1e3)
        return out

    return timed


def alternate(timers: dict[str, Callable[[int, float], list[float]]], rounds: int, runs: int,
              seconds: float) -> dict[str, dict[str, Any]]:
    """Round-robin over ``timers``: per key the p50 of each round, their median, and the fastest run
    (under load the minimum is the steadier estimate of the unloaded time; both are reported)."""
    p50s: dict[str, list[float]] = {k: [] for k in timers}
    mins: dict[str, float] = {k: math.inf for k in timers}
    for _ in range(rounds):
        for key, timed in timers.items():
            ts = timed(runs, seconds)
            p50s[key].append(statistics.median(ts))
            mins[key] = min(mins[key], min(ts))
    return {k: {"p50_ms": statistics.median(v), "min_ms": mins[k], "round_p50_ms": [round(x, 4) for x in v]}
            for k, v in p50s.items()}


def dense_stack(width: int, size: tuple[int, int], work: Path) -> dict[str, Any]:
    """Four 3x3 conv+ReLU layers at ``width`` channels: .h5, fp32 and int8 (int8 I/O) .tflite paths."""
    from edgeseg._keras import keras, tf

    keras.utils.set_random_seed(width)
    x = inputs = keras.Input((*size, width), batch_size=1)
    for i in range(4):
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name=f"conv{i}")(x)
    model = keras.Model(inputs, x, name=f"dense{width}")
    stem = work / f"dense{width}"
    model.save(f"{stem}.h5")
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    Path(f"{stem}_fp32.tflite").write_bytes(conv.convert())
    rng = np.random.default_rng(width)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rng.standard_normal((1, *size, width)).astype(np.float32)] for _ in range(4))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    Path(f"{stem}_int8.tflite").write_bytes(conv.convert())
    gop = 2 * 4 * size[0] * size[1] * 9 * width * width / 1e9
    return {"width": width, "size": list(size), "gop": gop, "paths": {
        "keras": f"{stem}.h5", "fp32": f"{stem}_fp32.tflite", "int8": f"{stem}_int8.tflite"}}


def zoo_model(name: str, work: Path, size: tuple[int, int]) -> dict[str, Any]:
    """A shipped ``models/<name>`` (its int8 .tflite, .h5 and an fp32 .tflite converted here), or a
    registry architecture built untrained at ``size`` and converted to fp32 and int8 (uint8 I/O)."""
    from edgeseg import models
    from edgeseg._keras import keras
    from edgeseg.export.convert import convert_model

    shipped = ROOT / "models" / name
    if shipped.is_dir():
        h5, int8 = shipped / f"{name}.h5", shipped / f"{name}_int8.tflite"
        (fp32,) = convert_model(h5, ["fp32"], work, calib=None, verify_data=SAMPLES, force=True)
        params = keras.models.load_model(h5, compile=False).count_params()
        return {"model": name, "source": f"models/{name} (trained, shipped)", "keras": str(h5),
                "fp32": fp32["path"], "int8": str(int8), "params": int(params)}
    arch, _, spec = name.partition(":")
    opts = {k: json.loads(v) if v[:1] in "0123456789[" else v
            for k, v in (kv.split("=", 1) for kv in spec.split(",") if kv)}
    keras.utils.set_random_seed(0)
    size = models.round_up_size(size, models.input_multiple(arch, **opts))  # 360x480 -> 384x480 at stride 32
    model = models.build(arch, 11, size, **opts)
    h5 = work / f"{arch}{'_' + '_'.join(f'{k}{v}' for k, v in opts.items()) if opts else ''}.h5"
    model.save(h5)
    res = convert_model(h5, ["fp32", "int8"], work, calib=SAMPLES, calib_count=11, io="uint8",
                        verify_data=SAMPLES, force=True)
    by = {r["target"]: r["path"] for r in res}
    return {"model": name, "source": f"edgeseg.models.build({arch!r}, **{opts}), random weights, int8 (uint8 I/O) "
            "calibrated on samples/camvid", "keras": str(h5), "fp32": by["fp32"], "int8": by["int8"],
            "params": int(model.count_params())}


class _OpRunner:
    """A one-op .tflite in LiteRT's Interpreter (XNNPACK, ``threads``), every input set to random data."""

    def __init__(self, content: bytes, threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._it = Interpreter(model_content=content, num_threads=threads)
        self._it.allocate_tensors()
        for d in self._it.get_input_details():
            self._it.set_tensor(d["index"], _input(np.dtype(d["dtype"]).name, tuple(d["shape"])))
        nodes = self._it._get_ops_details()  # pylint: disable=protected-access
        self.delegated = any(n["op_name"] == "DELEGATE" for n in nodes)
        self.input = type("Info", (), {"dtype": "float32", "shape": ()})  # _timer sets no input: see set_input

    def set_input(self, x: np.ndarray) -> None:
        """Inputs were set at construction."""

    def invoke(self) -> None:
        self._it.invoke()


def profile_ops(int8_path: str, rounds: int, threads: int, seconds: float) -> list[dict[str, Any]]:
    """Every op of ``int8_path`` timed alone (one-op .tflite on XNNPACK), with its GOPs and stage."""
    rows, timers = [], {}
    for i, (info, content) in enumerate(op_models(Path(int8_path).read_bytes())):
        runner = _OpRunner(content, threads)
        info["xnnpack"] = runner.delegated
        timers[str(i)] = _timer(runner)
        rows.append(info)
    times = alternate(timers, rounds, 5, seconds)
    for i, row in enumerate(rows):
        row["ms"] = times[str(i)]["p50_ms"]
    return rows


def group(rows: list[dict[str, Any]], key: str, dense_int8: float) -> list[dict[str, Any]]:
    """Ops summed by ``key``: count, GOPs, isolated ms, time share, GOP/s and share of the dense rate."""
    total = sum(r["ms"] for r in rows) or 1.0
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        g = out.setdefault(r[key], {key: r[key], "ops": 0, "gop": 0.0, "ms": 0.0})
        g["ops"] += 1
        g["gop"] += r["gop"]
        g["ms"] += r["ms"]
    for g in out.values():
        g["time_share"] = g["ms"] / total
        g["gop_per_s"] = _rate(g["gop"], g["ms"]) if g["gop"] else 0.0
        g["dense_share"] = g["gop_per_s"] / dense_int8
    return list(out.values())


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def markdown(rep: dict[str, Any], top_kinds: int = 6) -> str:
    """The tables of docs/models.md: dense rates, models, stages and the costliest op kinds."""
    m, v, d = rep["machine"], rep["versions"], rep["dense"]
    whole, iso = d["median_gop_per_s"], d["median_isolated_gop_per_s"]
    out = [f"Machine: {m['cpu']}, {m['usable_cores']}/{m['cores']} cores; LiteRT {v['litert']}, TensorFlow "
           f"{v['tensorflow']}; {rep['threads']} threads; median of {rep['rounds']} alternating rounds; load "
           f"average {rep['loadavg_before']} before, {rep['loadavg_after']} after.", "",
           "| 4 x 3x3 conv, width | size | GOP | Keras GFLOP/s | fp32 GFLOP/s: ops alone | whole | "
           "int8 GOP/s: ops alone | whole | int8 / fp32 (ops alone) |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in d["stacks"]:
        k, f, q = s["keras"], s["fp32"], s["int8"]
        out.append(f"| {s['width']} | {s['size'][0]}x{s['size'][1]} | {s['gop']:.2f} | "
                   f"{k['gop_per_s']:.0f} ({k['best_gop_per_s']:.0f}) | {f['isolated_gop_per_s']:.0f} | "
                   f"{f['gop_per_s']:.0f} ({f['best_gop_per_s']:.0f}) | {q['isolated_gop_per_s']:.0f} | "
                   f"{q['gop_per_s']:.0f} ({q['best_gop_per_s']:.0f}) | "
                   f"{q['isolated_gop_per_s'] / f['isolated_gop_per_s']:.1f}x |")
    out += [f"| **median** | | | **{whole['keras']:.0f}** | **{iso['fp32']:.0f}** | {whole['fp32']:.0f} | "
            f"**{iso['int8']:.0f}** | {whole['int8']:.0f} | **{iso['int8'] / iso['fp32']:.1f}x** |", "",
            "Rates from the median of the round p50s; in brackets: from the fastest single run. \"Ops alone\": "
            "the sum of the ops timed one at a time (see below).", "",
            "| model | input | params (M) | GOPs | Keras ms | fp32 ms | int8 ms | int8 ops alone, ms | int8 vs Keras | "
            "int8 vs fp32 | int8 GOP/s (ops alone) | of dense int8 | int8 nodes on XNNPACK |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for z in rep["models"]:
        lat, x = z["latency"], z.get("xnnpack_int8") or {}
        off = ", ".join(f"{k} x{n}" for k, n in (x.get("fallback") or {}).items())
        best = lat["keras"]["min_ms"] / lat["int8"]["min_ms"]
        out.append(f"| {z['model']} | {z['input'][0]}x{z['input'][1]} | {z['params'] / 1e6:.2f} | {z['gop']:.2f} | "
                   + " | ".join(f"{lat[k]['p50_ms']:.1f} ({lat[k]['min_ms']:.1f})" for k in ("keras", "fp32", "int8"))
                   + f" | {z['ops_isolated_ms']:.1f} | {z['int8_vs_keras']:.1f}x ({best:.1f}x) | {z['int8_vs_fp32']:.1f}x | "
                   f"{z['isolated_gop_per_s']:.0f} | {_pct(z['dense_share'])} | "
                   f"{x.get('delegated')}/{x.get('total')}{f' (off: {off})' if off else ''} |")
    out += ["", "Per stage (each op timed alone; ms are sums of isolated op p50s):", "",
            "| model | stage | ops | GOPs | ms | time | GOP/s | of dense int8 |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for z in rep["models"]:
        for g in z["stages"]:
            out.append(f"| {z['model']} | {g['stage']} | {g['ops']} | {g['gop']:.2f} | {g['ms']:.2f} | "
                       f"{_pct(g['time_share'])} | {g['gop_per_s']:.0f} | {_pct(g['dense_share'])} |")
    out += ["", f"The {top_kinds} costliest op kinds per model (isolated):", "",
            "| model | op | n | GOPs | ms | time | GOP/s | of dense int8 |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for z in rep["models"]:
        for g in sorted(z["op_kinds"], key=lambda g: -g["ms"])[:top_kinds]:
            out.append(f"| {z['model']} | {g['kind']} | {g['ops']} | {g['gop']:.2f} | {g['ms']:.2f} | "
                       f"{_pct(g['time_share'])} | {g['gop_per_s']:.0f} | {_pct(g['dense_share'])} |")
    out += ["", "Command: `" + rep["command"] + "`", ""]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zoo", nargs="*", default=["camvid-enet", "camvid-unet", "camvid-linknet"])
    ap.add_argument("--new", nargs="*", default=["rtseg", "rtseg:block=inverted"],
                    help="registry architectures built untrained: NAME or NAME:KEY=VALUE,...")
    ap.add_argument("--size", default="360x480", help="input size of the --new models (rounded up to their multiple)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=10, help="timed runs per round (at least --min-time)")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per round and artifact")
    ap.add_argument("--op-time", type=float, default=0.03, help="seconds per round and isolated op")
    ap.add_argument("--tiny", action="store_true", help="small sizes, one round: tests the script")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "int8_efficiency.json")
    args = ap.parse_args()
    from edgeseg import _keras, runtime
    from edgeseg.core.spec import parse_size

    _keras.set_threads(args.threads)  # before TensorFlow runs its first op
    size = parse_size(args.size)
    dense = dict(DENSE)
    if args.tiny:
        size, dense, args.rounds, args.min_time, args.op_time = (64, 96), {32: (23, 30), 64: (12, 15)}, 1, 0.05, 0.005
    rep: dict[str, Any] = {"command": shlex.join(["python", "benchmarks/int8_efficiency.py", *sys.argv[1:]]),
                           "machine": machine_info(), "versions": versions(), "threads": args.threads,
                           "rounds": args.rounds, "loadavg_before": [round(v, 2) for v in os.getloadavg()]}
    work = Path(tempfile.mkdtemp(prefix="edgeseg_int8eff_"))
    stacks = [dense_stack(w, s, work) for w, s in dense.items()]
    zoo = [zoo_model(n, work, size) for n in [*args.zoo, *args.new]]
    timers, backends = {}, []
    for entry in [*stacks, *zoo]:
        tag = entry.get("model") or f"dense{entry['width']}"
        for kind in ("keras", "fp32", "int8"):
            be = runtime.load((entry.get("paths") or entry)[kind], backend="keras" if kind == "keras" else "litert", threads=args.threads)
            backends.append(be)
            if kind == "int8":
                entry["xnnpack_int8"] = be.delegated_ops()
            timers[f"{tag}/{kind}"] = _timer(be)
    times = alternate(timers, args.rounds, args.runs, args.min_time)
    for be in backends:
        be.close()
    for s in stacks:
        for kind in ("keras", "fp32", "int8"):
            t = times[f"dense{s['width']}/{kind}"]
            s[kind] = {**t, "gop_per_s": _rate(s["gop"], t["p50_ms"]), "best_gop_per_s": _rate(s["gop"], t["min_ms"])}
        for kind in ("fp32", "int8"):
            ms = sum(r["ms"] for r in profile_ops(s["paths"][kind], args.rounds, args.threads, args.op_time))
            s[kind].update({"ops_isolated_ms": ms, "isolated_gop_per_s": _rate(s["gop"], ms)})
    whole = {k: statistics.median(s[k]["gop_per_s"] for s in stacks) for k in ("keras", "fp32", "int8")}
    iso = {k: statistics.median(s[k]["isolated_gop_per_s"] for s in stacks) for k in ("fp32", "int8")}
    rep["dense"] = {"stacks": stacks, "median_gop_per_s": whole, "median_isolated_gop_per_s": iso}
    for z in zoo:
        ops = profile_ops(z["int8"], args.rounds, args.threads, args.op_time)
        gop, iso_ms = sum(r["gop"] for r in ops), sum(r["ms"] for r in ops)
        lat = {k: times[f"{z['model']}/{k}"] for k in ("keras", "fp32", "int8")}
        int8_ms = lat["int8"]["p50_ms"]
        z.update({"input": ops[0]["input_hw"] if ops else None, "gop": gop, "latency": lat,
                  "int8_gop_per_s": _rate(gop, int8_ms), "int8_dense_share": _rate(gop, int8_ms) / whole["int8"],
                  "int8_vs_keras": lat["keras"]["p50_ms"] / int8_ms, "int8_vs_fp32": lat["fp32"]["p50_ms"] / int8_ms,
                  "ops_isolated_ms": iso_ms, "isolated_gop_per_s": _rate(gop, iso_ms),
                  "dense_share": _rate(gop, iso_ms) / iso["int8"], "stages": group(ops, "stage", iso["int8"]),
                  "op_kinds": group(ops, "kind", iso["int8"]), "ops": ops})
    rep["models"] = zoo
    rep["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rep, indent=1, default=str) + "\n")
    md = markdown(rep)
    args.out.with_suffix(".md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
