"""The training loop: tf.distribute-aware custom steps (XLA where possible), validation, checkpoints."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgeseg._keras import keras, tf
from edgeseg._tf_private import moving_averages
from edgeseg.core.metrics import Scores
from edgeseg.core.spec import Spec
from edgeseg.data.pipeline import FrameCache, PipelineConfig, eval_dataset, ignore_index, train_dataset
from edgeseg.errors import UsageError
from edgeseg.train import outputs
from edgeseg.train.evaluate import evaluate, make_predict_fn
from edgeseg.train.fold import fold_upsampling_head
from edgeseg.train.losses import compiled, make_loss
from edgeseg.train.optim import OptimConfig, make_optimizer
from edgeseg.train.precision import POLICIES, loss_scale_optimizer, with_policy

log = logging.getLogger(__name__)
#: Wall time one adaptive multi-step call aims at, and the most steps it runs.
CALL_SECONDS, MAX_STEPS_PER_CALL = 0.5, 64


@dataclass(frozen=True)
class TrainConfig:
    """How long and how to train.

    Attributes:
        epochs: Total epochs (a resumed run continues up to this number).
        batch_size: Global batch size (split across replicas).
        loss: A name from :data:`edgeseg.train.losses.LOSSES`.
        class_weights: Per-class loss weights or ``None``.
        optim: Optimiser and schedule.
        seed: Seeds the shuffle, the augmentation and (via the caller) the weights.
        jit: XLA-compile the forward/backward step: ``True``, ``False`` (no XLA at all) or ``None``
            (auto: on a GPU try XLA and fall back; on CPU only the loss, since XLA's CPU convolutions
            measured 3-5x slower than TensorFlow's oneDNN kernels for U-Net and ENet training steps,
            while XLA's fused loss is faster, see :func:`edgeseg.train.losses.compiled`).
        steps_per_epoch: Cap on steps per epoch (default: one pass over the training frames).
        val_batch_size: Frames per validation batch.
        steps_per_execution: Steps run inside one ``tf.function`` call (one host sync, one loss
            fetch, one progress update each); ``None`` adapts it so a call takes about 0.5 s.
        precision: ``fp32``, ``bf16`` or ``fp16`` (see :mod:`edgeseg.train.precision`): the
            training copy of the model computes in it; validation and the saved files are float32.
        val_every: Validate every N epochs and after the last one (best.h5 is chosen among the
            validated epochs); 1 validates every epoch.
    """

    epochs: int
    batch_size: int
    loss: str = "ce"
    class_weights: list[float] | None = None
    optim: OptimConfig = field(default_factory=OptimConfig)
    seed: int = 0
    jit: bool | None = None
    steps_per_epoch: int | None = None
    val_batch_size: int = 4
    steps_per_execution: int | None = None
    precision: str = "fp32"
    val_every: int = 1

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise UsageError("epochs and batch size must be >= 1")
        if self.val_every < 1:
            raise UsageError(f"--val-every must be >= 1, got {self.val_every}")
        if self.precision not in POLICIES:
            raise UsageError(f"precision must be one of {', '.join(POLICIES)}, got {self.precision!r}")
        if self.steps_per_execution is not None and self.steps_per_execution < 1:
            raise UsageError("steps per execution must be >= 1")


@dataclass
class EpochRecord:
    """One epoch's numbers (a row of history.csv)."""

    epoch: int
    loss: float
    lr: float
    seconds: float
    val: Scores | None = None
    val_raw: Scores | None = None  # the raw (not averaged) weights, in runs with --ema

    def row(self, spec: Spec) -> dict[str, Any]:
        """history.csv row."""
        r: dict[str, Any] = {"epoch": self.epoch, "loss": self.loss, "lr": self.lr, "seconds": self.seconds,
                             "val_miou": float("nan"), "val_pixel_accuracy": float("nan")}
        if self.val is not None:
            r["val_miou"], r["val_pixel_accuracy"] = self.val.miou, self.val.pixel_accuracy
            r.update({f"iou_{n}": float(v) for n, v in zip(spec.class_names, self.val.iou)})
        if self.val_raw is not None:
            r["val_miou_raw"] = self.val_raw.miou
        return r


@dataclass
class Summary:
    """How a run ended."""

    epochs_done: int = 0
    best_epoch: int | None = None
    best_miou: float = float("nan")  # a fraction; NaN without a validation set
    last_loss: float = float("nan")
    best_iou: list[float | None] = field(default_factory=list)
    wall_seconds: float = 0.0
    interrupted: bool = False
    records: list[EpochRecord] = field(default_factory=list)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes files (the only one outside multi-worker runs)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    kind, index = resolver.task_type, resolver.task_id
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return kind == "chief" or (not has_chief and kind == "worker" and index == 0)


class Trainer:
    """Fits a model on a :class:`FrameCache` and writes best/last/state/history to ``out``.

    Args:
        model_fn: Builds or loads the model; called inside the strategy's scope.
        spec: Classes, void, normalisation.
        pipe: How frames become inputs.
        cfg: Training settings.
        train: Training frames; ``val`` validation frames (``None``: a fixed schedule, best.h5 is
            the last epoch's weights, averaged when averaging).
        out: Output folder (``None``: write nothing, e.g. benchmarks).
        strategy: A tf.distribute strategy (default: the no-op default strategy).
        on_epoch: Called after each epoch with its record (printing, manifests).
        progress: ``progress(total_steps, label)`` -> object with ``update(n, suffix)`` and ``close()``.
    """

    def __init__(self, model_fn: Callable[[], keras.Model], spec: Spec, pipe: PipelineConfig, cfg: TrainConfig,
                 train: FrameCache, val: FrameCache | None = None, out: Path | None = None,
                 strategy: tf.distribute.Strategy | None = None,
                 on_epoch: Callable[["Trainer", EpochRecord, Summary], None] | None = None,
                 progress: Callable[[int, str], Any] | None = None) -> None:
        self.spec, self.pipe, self.cfg, self.train, self.val, self.out = spec, pipe, cfg, train, val, out
        self.strategy = strategy or tf.distribute.get_strategy()
        self.on_epoch, self.progress = on_epoch, progress
        self.chief = is_chief(self.strategy)
        replicas = self.strategy.num_replicas_in_sync
        if cfg.batch_size % replicas:
            raise UsageError(f"batch size {cfg.batch_size} must be a multiple of the {replicas} replicas")
        full = len(train) // cfg.batch_size
        if full < 1:
            raise UsageError(f"batch size {cfg.batch_size} is larger than the {len(train)} training images")
        self.steps = min(full, cfg.steps_per_epoch) if cfg.steps_per_epoch else full
        with self.strategy.scope():
            # ``eval_model`` runs at the full input size (validation, saved files); ``model`` is the
            # same network rebuilt at the crop size when training on crops. Weights are copied
            # from ``model`` to ``eval_model`` before every validation and save (see ``_sync``).
            self.eval_model = model_fn()
            self.model = self._train_model(self.eval_model, pipe.crop)
            if cfg.precision != "fp32":  # a 16-bit copy trains; eval_model stays float32 for validation and files
                self.model = with_policy(self.model, POLICIES[cfg.precision])
            if cfg.optim.ema and self.model is self.eval_model:  # the averaged weights need a model of their own
                from edgeseg.models.reshape import copy_model

                self.eval_model = copy_model(self.model)
            # same function and variables, the full-resolution linear head computed at low resolution
            self.model = fold_upsampling_head(self.model)
            self.optimizer, self.schedule = make_optimizer(cfg.optim, self.steps * cfg.epochs)
            self._base_optimizer = self.optimizer  # holds the averages; LossScaleOptimizer delegates to it
            if cfg.precision == "fp16":
                self.optimizer = loss_scale_optimizer(self.optimizer)
            self.optimizer.build(self.model.trainable_variables)
        self.loss_fn = make_loss(cfg.loss, ignore_index(spec), cfg.class_weights)
        self.jit = cfg.jit
        if self.jit is None and not tf.config.list_logical_devices("GPU"):
            self.jit = False  # auto on a CPU: the convolutions run oneDNN's kernels, the loss runs XLA's
            self.loss_fn = compiled(self.loss_fn, spec.num_classes)
        self._chunk = cfg.steps_per_execution or 1
        self._step_time: float | None = None
        self._calls = 0
        self._step_fn, self._multi_fn = self._make_steps(self.jit is not False)

    @staticmethod
    def _train_model(model: keras.Model, crop: tuple[int, int] | None) -> keras.Model:
        if crop is None or tuple(model.input_shape[1:3]) == tuple(crop):
            return model
        from edgeseg.models.reshape import with_input_size

        try:
            return with_input_size(model, crop)
        except (ValueError, TypeError) as exc:
            raise UsageError(f"cannot train this model on {crop[0]}x{crop[1]} crops ({exc}); "
                             "train without --crop") from None

    @property
    def averaging(self) -> bool:
        """Whether validation and best.h5 use an exponential moving average of the weights."""
        return bool(self.cfg.optim.ema)

    def _sync(self, raw: bool = False) -> None:
        """Copy the trained weights into the full-size model (a no-op without crops and averaging):
        the moving averages of the trainable weights when averaging (unless ``raw``), with the
        BatchNorm statistics and other non-trainable weights as they are."""
        if self.eval_model is self.model:
            return
        values = self.model.get_weights()
        if self.averaging and not raw:
            # Keras builds one average per trainable variable, in the order given to build()
            averages = {v.ref(): a for v, a in zip(self.model.trainable_variables,
                                                   moving_averages(self._base_optimizer))}
            values = [averages[v.ref()].numpy() if v.ref() in averages else value
                      for v, value in zip(self.model.weights, values)]
        self.eval_model.set_weights(values)

    # -- steps ---------------------------------------------------------------------------------
    def _make_steps(self, jit: bool) -> tuple[Callable, Callable]:
        """``step(x, y) -> loss`` and ``multi(iterator, n) -> sum of n losses`` (one graph call)."""
        model, opt, loss_fn, strategy = self.model, self.optimizer, self.loss_fn, self.strategy
        replicas = float(strategy.num_replicas_in_sync)
        scaling = self.cfg.precision == "fp16"

        @tf.function(jit_compile=jit)
        def grads(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, list[tf.Tensor]]:
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss = loss_fn(y, logits)  # float32 whatever the compute precision (losses cast first)
                extra = [tf.cast(term, tf.float32) for term in model.losses]
                total = loss + tf.add_n(extra) if extra else loss
                scaled = total / replicas
                if scaling:
                    scaled = opt.get_scaled_loss(scaled)
            g = tape.gradient(scaled, model.trainable_variables)
            return loss, (opt.get_unscaled_gradients(g) if scaling else g)

        def replica_step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
            loss, g = grads(x, y)
            opt.apply_gradients(zip(g, model.trainable_variables))
            return loss

        def one(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
            per_replica = strategy.run(replica_step, args=(x, y))
            return strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None)

        @tf.function
        def multi(iterator: Any, n: tf.Tensor) -> tf.Tensor:
            total = tf.zeros([], tf.float32)
            for _ in tf.range(n):
                x, y = next(iterator)
                total += tf.cast(one(x, y), tf.float32)
            return total

        return tf.function(one), multi

    def _run_step(self, x: Any, y: Any) -> tf.Tensor:
        """One step on a batch fetched in Python (the first step of a run: it decides about XLA)."""
        if self.jit is None:  # first step decides: XLA if it compiles, plain graph otherwise
            try:
                loss = self._step_fn(x, y)
                self.jit = True
                return loss
            except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, NotImplementedError) as exc:
                log.warning("XLA compilation failed, training without it: %s", str(exc).splitlines()[0])
                self.jit = False
                self._step_fn, self._multi_fn = self._make_steps(False)
        return self._step_fn(x, y)

    def _run_steps(self, it: Any, n: int) -> float:
        """``n`` steps in one graph call; returns the sum of their losses. Adapts the chunk size."""
        t = time.perf_counter()
        total = float(self._multi_fn(it, tf.constant(n, tf.int32)))
        per_step = (time.perf_counter() - t) / n
        self._calls += 1
        if self.cfg.steps_per_execution is None and self._calls > 1:  # the first call traces the graph
            self._step_time = per_step if self._step_time is None else 0.7 * self._step_time + 0.3 * per_step
            self._chunk = max(1, min(MAX_STEPS_PER_CALL, int(CALL_SECONDS / max(self._step_time, 1e-6))))
        return total

    def train_steps(self, it: Any, steps: int, on_chunk: Callable[[int, float], None] | None = None) -> float:
        """Run ``steps`` training steps on batches of ``it`` (see :meth:`batches`); returns the sum
        of their losses. ``on_chunk(n, loss_sum_so_far)`` is called after every graph call."""
        total, done = 0.0, 0
        if self.jit is None:  # XLA probe: one step on a batch fetched here
            x, y = next(it)
            total, done = float(self._run_step(x, y)), 1
            if on_chunk:
                on_chunk(1, total)
        while done < steps:
            n = min(self._chunk, steps - done)
            total += self._run_steps(it, n)
            done += n
            if on_chunk:
                on_chunk(n, total)
        return total

    def batches(self, first_epoch: int = 0) -> Any:
        """An iterator over the (distributed) training batches of epochs ``first_epoch`` .. end."""
        return iter(self._dataset(first_epoch))

    def _dataset(self, first_epoch: int) -> Any:
        cfg, pipe, frames, steps = self.cfg, self.pipe, self.train, self.steps

        def fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
            return train_dataset(frames, pipe, ctx.get_per_replica_batch_size(cfg.batch_size), seed=cfg.seed,
                                 epoch=first_epoch, epochs=cfg.epochs - first_epoch,
                                 per_epoch=steps * (cfg.batch_size // ctx.num_input_pipelines),
                                 shard=(ctx.num_input_pipelines, ctx.input_pipeline_id))

        return self.strategy.distribute_datasets_from_function(fn)

    # -- the loop ------------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> Summary:
        """Train from epoch 0, or from the saved state in ``out`` when ``resume``."""
        summary, start, rows = Summary(), 0, []
        if resume:
            start, summary, rows = self._restore()
        t0 = time.perf_counter() - summary.wall_seconds
        val_ds = eval_dataset(self.val, self.pipe, self.cfg.val_batch_size) if self.val is not None else None
        predict = make_predict_fn(self.eval_model, self.pipe.fit)
        it = self.batches(start) if start < self.cfg.epochs else None
        try:
            for epoch in range(start, self.cfg.epochs):
                rec = self._epoch(epoch, it)
                self._sync()  # the averages when averaging
                validate = val_ds is not None and self._validates(epoch)
                if validate:
                    rec.val = evaluate(self.eval_model, val_ds, self.spec, self.pipe.fit, predict)
                summary.last_loss = rec.loss
                # without validation the schedule is fixed and the last epoch is the model
                if val_ds is None or (validate and (math.isnan(summary.best_miou)
                                                    or rec.val.miou > summary.best_miou)):
                    summary.best_epoch = epoch + 1
                    if rec.val is not None:
                        summary.best_miou = rec.val.miou
                        summary.best_iou = [None if np.isnan(v) else float(v) for v in rec.val.iou]
                    self._save(outputs.BEST)
                if self.averaging:  # the raw weights: their score, and last.h5 for --resume
                    self._sync(raw=True)
                    if validate:
                        rec.val_raw = evaluate(self.eval_model, val_ds, self.spec, self.pipe.fit, predict)
                summary.records.append(rec)
                rows.append(rec.row(self.spec))
                summary.epochs_done = epoch + 1
                summary.wall_seconds = time.perf_counter() - t0
                self._checkpoint(epoch + 1, summary, rows)
                if self.on_epoch:
                    self.on_epoch(self, rec, summary)
        except KeyboardInterrupt:
            summary.interrupted = True
            summary.wall_seconds = time.perf_counter() - t0
            self._sync(raw=True)
            self._checkpoint(summary.epochs_done, summary, rows)
        return summary

    def _validates(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` (0-based) is scored: every ``val_every``-th and the last."""
        return (epoch + 1) % self.cfg.val_every == 0 or epoch + 1 == self.cfg.epochs

    def _epoch(self, epoch: int, it: Any) -> EpochRecord:
        bar = self.progress(self.steps, f"epoch {epoch + 1}/{self.cfg.epochs}") if self.progress else None
        t = time.perf_counter()
        lr = float(self.schedule(self.optimizer.iterations))
        seen = [0]

        def progress(n: int, total: float) -> None:
            seen[0] += n
            if bar:
                bar.update(n, f"loss {total / seen[0]:.4f}")

        total = self.train_steps(it, self.steps, progress)
        if bar:
            bar.close()
        return EpochRecord(epoch + 1, total / self.steps, lr, time.perf_counter() - t)

    # -- files ---------------------------------------------------------------------------------
    def _save(self, name: str) -> None:
        if self.out is None:
            return
        if self.chief:
            outputs.save_model(self.eval_model, self.out / name)
        else:  # multi-worker saving is collective: every worker saves, non-chiefs to a throw-away place
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                outputs.save_model(self.eval_model, Path(tmp) / name)

    def _checkpoint(self, next_epoch: int, summary: Summary, rows: list[dict[str, Any]]) -> None:
        if self.out is None:
            return
        # eval_model holds the raw weights here (the averages are in the optimizer state): last.h5 is what
        # --resume continues from
        if not self.chief:
            self._save(outputs.LAST)
            return
        self._save(outputs.LAST)
        meta = {"next_epoch": next_epoch, "best_epoch": summary.best_epoch, "best_miou": summary.best_miou,
                "best_iou": summary.best_iou, "wall_seconds": summary.wall_seconds, "steps": self.steps,
                "last_loss": summary.last_loss,
                "epochs": self.cfg.epochs, "optimizer": self.cfg.optim.name}
        outputs.save_state(self.out, self.optimizer, meta)
        outputs.write_history(self.out, self.spec, rows)

    def _restore(self) -> tuple[int, Summary, list[dict[str, Any]]]:
        assert self.out is not None
        arrays, meta = outputs.load_state(self.out)
        if meta.get("optimizer") != self.cfg.optim.name:
            raise UsageError(f"the saved run used optimizer {meta.get('optimizer')!r}, not {self.cfg.optim.name!r}")
        with self.strategy.scope():
            outputs.restore_optimizer(self.optimizer, self.model.trainable_variables, arrays)
        start = int(meta["next_epoch"])
        # An interrupted epoch is redone from its start: rewind the step count the schedule reads.
        self.optimizer.iterations.assign(start * self.steps)
        if int(meta.get("steps", self.steps)) != self.steps:
            log.warning("steps per epoch changed (%s -> %s); the schedule continues from step %d",
                        meta.get("steps"), self.steps, int(self.optimizer.iterations.numpy()))
        summary = Summary(epochs_done=start, best_epoch=meta.get("best_epoch"),
                          best_miou=float(meta.get("best_miou", float("nan"))), best_iou=meta.get("best_iou") or [],
                          wall_seconds=float(meta.get("wall_seconds", 0.0)),
                          last_loss=float(meta.get("last_loss", float("nan"))))
        rows = [r for r in outputs.read_history(self.out) if int(r["epoch"]) <= start]
        return start, summary, rows
