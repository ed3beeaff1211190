"""The learning-rate schedule's values against hand-computed ones, and two broken schedules it must reject."""

from __future__ import annotations

import numpy as np
import pytest

STEPS = [0, 1, 2, 4, 6, 8, 10, 15]
# peak 0.1, floor 0.01, 10 steps, 2 of warm-up: warm-up gives peak * (step + 1) / 2; then t = (step - 2) / 8 and
# poly = floor + (peak - floor) * (1 - t) ** 0.9, cosine = floor + (peak - floor) * (1 + cos(pi t)) / 2.
# 0.75 ** 0.9 = 0.7718895, 0.5 ** 0.9 = 0.5358867, 0.25 ** 0.9 = 0.2871746; (1 + cos(pi/4)) / 2 = 0.8535534.
BY_HAND = {
    "poly": [0.05, 0.1, 0.1, 0.01 + 0.09 * 0.7718895, 0.01 + 0.09 * 0.5358867, 0.01 + 0.09 * 0.2871746, 0.01, 0.01],
    "cosine": [0.05, 0.1, 0.1, 0.01 + 0.09 * 0.8535534, 0.055, 0.01 + 0.09 * 0.1464466, 0.01, 0.01],
    "constant": [0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
}
TOL = 1e-6  # float32 arithmetic: measured differences below 1e-8 at these magnitudes


def _values(sched, steps=STEPS) -> list[float]:
    return [float(sched(np.int64(s))) for s in steps]


@pytest.mark.parametrize("kind", list(BY_HAND))
def test_warmup_decay_by_hand(kind: str) -> None:
    from edgeseg.train.optim import OptimConfig, WarmupDecay, make_optimizer

    np.testing.assert_allclose(_values(WarmupDecay(0.1, 10, 2, kind, 0.01)), BY_HAND[kind], atol=TOL)
    # what training builds from its options is this same schedule
    _, sched = make_optimizer(OptimConfig(lr=0.1, schedule=kind, warmup_steps=2, min_lr=0.01), 10)
    np.testing.assert_allclose(_values(sched), BY_HAND[kind], atol=TOL)


def test_without_warmup_starts_at_peak_and_ends_at_floor() -> None:
    from edgeseg.train.optim import WarmupDecay

    np.testing.assert_allclose(_values(WarmupDecay(1.0, 4, 0, "poly"), [0, 1, 2, 3, 4, 9]),
                               [1.0, 0.7718895, 0.5358867, 0.2871746, 0.0, 0.0], atol=TOL)


def test_broken_schedules_fail_the_check() -> None:
    """Mutations: a linear instead of a 0.9-power decay, and a warm-up off by one step."""
    from edgeseg.train.optim import WarmupDecay

    linear = WarmupDecay(0.1, 10, 2, "poly", 0.01, power=1.0)

    class OffByOne(WarmupDecay):
        def __call__(self, step):
            return super().__call__(step + 1)

    for broken in (linear, OffByOne(0.1, 10, 2, "poly", 0.01)):
        with pytest.raises(AssertionError):
            np.testing.assert_allclose(_values(broken), BY_HAND["poly"], atol=TOL)
