"""Optimisers (Adam, SGD with momentum; decoupled weight decay) and warm-up + poly/cosine schedules."""

from __future__ import annotations

import math
from dataclasses import dataclass

from edgeseg._keras import keras, tf
from edgeseg.errors import UsageError

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("poly", "cosine", "constant")


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser and learning-rate schedule.

    Attributes:
        name: ``adam`` or ``sgd`` (with Nesterov-free momentum).
        lr: Peak learning rate (reached at the end of warm-up).
        momentum: SGD momentum.
        weight_decay: Decoupled weight decay (AdamW / SGDW style), 0 for none.
        schedule: ``poly`` (power 0.9), ``cosine`` or ``constant`` after warm-up.
        warmup_steps: Linear warm-up from 0 to ``lr``.
        min_lr: Floor reached at the last step.
        ema: Momentum of an exponential moving average of the trainable weights (Polyak
            averaging, e.g. 0.995: a horizon of ~200 steps), 0 for none. Validation and the saved
            models use the averaged weights; training continues on the raw ones.
    """

    name: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "poly"
    warmup_steps: int = 0
    min_lr: float = 0.0
    ema: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise UsageError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.name!r}")
        if self.schedule not in SCHEDULES:
            raise UsageError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)) or self.weight_decay < 0 or self.warmup_steps < 0:
            raise UsageError("learning rate must be > 0; weight decay and warm-up must be >= 0")
        if not 0.0 <= self.ema < 1.0:
            raise UsageError(f"EMA momentum must be in [0, 1), got {self.ema}")

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return dict(self.__dict__)


class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to ``peak``, then poly (power 0.9), cosine or constant down to ``floor``."""

    def __init__(self, peak: float, total_steps: int, warmup_steps: int = 0, kind: str = "poly",
                 floor: float = 0.0, power: float = 0.9) -> None:
        super().__init__()
        self.peak, self.total, self.warmup = float(peak), max(int(total_steps), 1), int(warmup_steps)
        self.kind, self.floor, self.power = kind, float(floor), float(power)

    def __call__(self, step: tf.Tensor) -> tf.Tensor:
        step = tf.cast(step, tf.float32)
        warm = float(max(self.warmup, 1))
        decay_len = float(max(self.total - self.warmup, 1))
        t = tf.clip_by_value((step - self.warmup) / decay_len, 0.0, 1.0)
        if self.kind == "poly":
            frac = (1.0 - t) ** self.power
        elif self.kind == "cosine":
            frac = 0.5 * (1.0 + tf.cos(math.pi * t))
        else:
            frac = tf.ones_like(t)
        decayed = self.floor + (self.peak - self.floor) * frac
        if self.warmup <= 0:
            return decayed
        return tf.where(step < self.warmup, self.peak * (step + 1.0) / warm, decayed)

    def get_config(self) -> dict:
        return {"peak": self.peak, "total_steps": self.total, "warmup_steps": self.warmup, "kind": self.kind,
                "floor": self.floor, "power": self.power}


def make_optimizer(cfg: OptimConfig, total_steps: int) -> tuple[keras.optimizers.Optimizer, WarmupDecay]:
    """The optimiser and its schedule for a run of ``total_steps`` steps."""
    sched = WarmupDecay(cfg.lr, total_steps, cfg.warmup_steps, cfg.schedule, cfg.min_lr)
    common = {"weight_decay": cfg.weight_decay or None}
    if cfg.ema:  # Keras keeps the averages as optimizer variables: they are saved and resumed with it
        common.update(use_ema=True, ema_momentum=cfg.ema, ema_overwrite_frequency=None)
    if cfg.name == "adam":
        opt = keras.optimizers.Adam(learning_rate=sched, **common)
    else:
        opt = keras.optimizers.SGD(learning_rate=sched, momentum=cfg.momentum, **common)
    return opt, sched
