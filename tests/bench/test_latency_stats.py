"""Latency loop and statistics on a fake backend with known timings and a fake clock."""

from __future__ import annotations

import numpy as np
import pytest

from edgeseg.bench.latency import LatencyConfig, measure_invoke, summarize
from edgeseg.runtime.base import Backend, TensorInfo


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class FakeBackend(Backend):
    name = "fake"

    def __init__(self, clock: FakeClock, durations_ms: list[float]) -> None:
        super().__init__("fake.bin")
        self.clock, self.durations, self.calls = clock, durations_ms, 0

    input = property(lambda self: TensorInfo("x", (1, 4, 4, 3), "float32"))  # type: ignore[assignment]
    output = property(lambda self: TensorInfo("y", (1, 4, 4, 2), "float32"))  # type: ignore[assignment]

    def set_input(self, x: np.ndarray) -> None:
        self.x = x

    def invoke(self) -> None:
        self.clock.t += self.durations[min(self.calls, len(self.durations) - 1)] / 1e3
        self.calls += 1

    def get_output(self) -> np.ndarray:
        return np.zeros((1, 4, 4, 2), np.float32)


def test_runs_until_both_count_and_time_are_reached():
    clock = FakeClock()
    # first 100 ms, then 10 ms warm-up runs, then 20 ms timed runs
    be = FakeBackend(clock, [100.0] + [10.0] * 50 + [20.0] * 1000)
    cfg = LatencyConfig(warmup_runs=1, warmup_seconds=0.5, min_runs=10, min_seconds=1.0)
    res = measure_invoke(be, np.zeros((1, 4, 4, 3), np.float32), cfg, clock=clock)
    assert res.first_ms == pytest.approx(100.0)
    assert len(res.warmup_ms) == 50 and all(t == pytest.approx(10.0) for t in res.warmup_ms)
    assert len(res.runs_ms) == 50  # 1 s / 20 ms: time dominates the 10-run minimum
    d = res.to_dict()
    assert d["latency_ms"]["p50"] == pytest.approx(20.0) and d["fps"] == pytest.approx(50.0)


def test_min_runs_dominates_when_runs_are_slow():
    clock = FakeClock()
    be = FakeBackend(clock, [500.0])
    cfg = LatencyConfig(warmup_runs=1, warmup_seconds=0.0, min_runs=5, min_seconds=0.1)
    res = measure_invoke(be, np.zeros((1, 4, 4, 3), np.float32), cfg, clock=clock)
    assert len(res.warmup_ms) == 1 and len(res.runs_ms) == 5


def test_summary_statistics():
    times = [float(v) for v in range(1, 101)]  # 1..100 ms
    s = summarize(times)
    assert s["count"] == 100 and s["min"] == 1 and s["max"] == 100
    assert s["p50"] == pytest.approx(50.5) and s["p90"] == pytest.approx(90.1) and s["p99"] == pytest.approx(99.01)
    assert s["mean"] == pytest.approx(50.5)
    assert s["std"] == pytest.approx(np.sqrt((100 ** 2 - 1) / 12))  # population std of 1..100
    assert np.isnan(summarize([])["p50"])
