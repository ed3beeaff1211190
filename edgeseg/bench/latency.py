"""Latency the way TFLite's benchmark_model measures it: first run, warm-up, then timed runs.

Method (mirrors ``benchmark_model``): the input is set once; every timed run is one
``invoke`` (no input copy, no output read). Warm-up runs until both ``warmup_runs`` runs and
``warmup_seconds`` have passed; timed runs continue until both ``min_runs`` runs and
``min_seconds`` have passed (``max_runs`` caps it). Pre-processing (resize + normalise +
quantise) and post-processing (output read + dequantise + argmax + nearest resize to the
frame's native size) are timed separately on the same frame.

Statistics: percentiles by linear interpolation between order statistics (numpy's default);
``std`` is the population standard deviation, as benchmark_model's ``Stat`` reports it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from edgeseg.core.metrics import class_map
from edgeseg.runtime.base import Backend

Clock = Callable[[], float]


@dataclass(frozen=True)
class LatencyConfig:
    """How long to warm up and measure."""

    warmup_runs: int = 1
    warmup_seconds: float = 0.5
    min_runs: int = 50
    min_seconds: float = 1.0
    max_runs: int = 100_000
    pre_post_runs: int = 10


def summarize(times_ms: Sequence[float]) -> dict[str, float]:
    """``count, min, max, p50, p90, p99, mean, std`` (population std) of run times in ms."""
    a = np.asarray(times_ms, dtype=np.float64)
    if a.size == 0:
        nan = float("nan")
        return {"count": 0, "min": nan, "max": nan, "p50": nan, "p90": nan, "p99": nan, "mean": nan, "std": nan}
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return {"count": int(a.size), "min": float(a.min()), "max": float(a.max()), "p50": float(p50),
            "p90": float(p90), "p99": float(p99), "mean": float(a.mean()), "std": float(a.std())}


@dataclass
class LatencyResult:
    """Raw timings of one measurement (ms)."""

    first_ms: float
    warmup_ms: list[float]
    runs_ms: list[float]
    pre_ms: list[float] = field(default_factory=list)
    post_ms: list[float] = field(default_factory=list)
    init_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``latency_ms`` section of a bench report plus ``fps`` and pre/post summaries."""
        s = summarize(self.runs_ms)
        lat = {"init": self.init_ms, "first": self.first_ms, **{k: s[k] for k in
                                                                ("min", "p50", "p90", "p99", "mean", "std", "max")}}
        warm = summarize(self.warmup_ms)
        return {
            "latency_ms": lat,
            "fps": 1000.0 / s["mean"] if s["mean"] and s["mean"] > 0 else None,
            "runs": s["count"],
            "warmup": {"runs": warm["count"], "mean_ms": warm["mean"]},
            "preprocess_ms": _short(self.pre_ms),
            "postprocess_ms": _short(self.post_ms),
        }


def _short(times: list[float]) -> dict[str, float] | None:
    if not times:
        return None
    s = summarize(times)
    return {"p50": s["p50"], "mean": s["mean"], "min": s["min"]}


def measure_invoke(backend: Backend, x: np.ndarray, config: LatencyConfig = LatencyConfig(),
                   clock: Clock = time.perf_counter) -> LatencyResult:
    """First inference, warm-up and timed ``invoke`` runs on the raw (engine-dtype) input ``x``."""
    backend.set_input(x)
    t0 = clock()
    backend.invoke()
    first = (clock() - t0) * 1e3
    warm = _invoke_until(backend, config.warmup_runs, config.warmup_seconds, config.max_runs, clock)
    runs = _invoke_until(backend, config.min_runs, config.min_seconds, config.max_runs, clock)
    return LatencyResult(first, warm, runs)


def _invoke_until(backend: Backend, min_runs: int, min_seconds: float, max_runs: int, clock: Clock) -> list[float]:
    """Time ``invoke`` (ms each) until both ``min_runs`` and ``min_seconds`` are reached, or ``max_runs``."""
    times: list[float] = []
    start = clock()
    while len(times) < min_runs or (clock() - start) < min_seconds:
        t0 = clock()
        backend.invoke()
        times.append((clock() - t0) * 1e3)
        if len(times) >= max_runs:
            break
    return times


def measure_pre_post(backend: Backend, image: np.ndarray, preprocess: Callable[[np.ndarray], np.ndarray],
                     runs: int, clock: Clock = time.perf_counter) -> tuple[list[float], list[float]]:
    """Time pre-processing (image -> raw engine input) and post-processing (raw output -> class
    map at the image's native size) separately, ``runs`` times each."""
    from edgeseg.core.preprocess import resize_nearest

    pre: list[float] = []
    post: list[float] = []
    native = image.shape[:2]
    for _ in range(max(runs, 0)):
        t0 = clock()
        raw_in = backend._encode(preprocess(image)[None])  # pylint: disable=protected-access
        pre.append((clock() - t0) * 1e3)
        backend.set_input(raw_in)
        backend.invoke()
        t0 = clock()
        y = backend._decode(backend.get_output())  # pylint: disable=protected-access
        labels = class_map(y)[0]
        resize_nearest(labels, native)
        post.append((clock() - t0) * 1e3)
    return pre, post
