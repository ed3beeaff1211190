"""One training run from a :class:`~edgeseg.train.request.TrainRequest`: devices, data, model, Trainer, manifest."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable

from edgeseg._keras import keras, set_threads, tf
from edgeseg.core.dataset import FolderDataset, concat_datasets, hold_out, resolve_dataset
from edgeseg.core.manifest import find_model_manifest
from edgeseg.core.progress import Progress
from edgeseg.core.spec import Spec
from edgeseg.data.augment import Augment
from edgeseg.data.pipeline import FrameCache, PipelineConfig
from edgeseg.errors import UsageError
from edgeseg.train import outputs
from edgeseg.train.legacy_args import args_of
from edgeseg.train.loop import EpochRecord, Summary, Trainer, TrainConfig
from edgeseg.train.optim import OptimConfig
from edgeseg.train.precision import resolve_precision
from edgeseg.train.request import AugmentRequest, DataRequest, TrainRequest, TrainResult
from edgeseg.train.weights import resolve_class_weights

log = logging.getLogger(__name__)
Echo = Callable[[str], None]


def make_strategy(kind: str, cpu_replicas: int | None = None) -> tf.distribute.Strategy:
    """Set up devices (must run before any TensorFlow op) and return the strategy."""
    if cpu_replicas:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_replicas)
    if kind == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise UsageError("--strategy multiworker needs TF_CONFIG (cluster + task) in the environment")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if kind == "mirrored":
        gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(gpus or cpus)
    return tf.distribute.get_strategy()


def _datasets(req: DataRequest, spec: Spec) -> tuple[FolderDataset, FolderDataset | None]:
    """Training frames (one or several splits, less any held-out sequences) and validation frames."""
    if req.images is not None:
        train = resolve_dataset(None, spec, images=req.images, masks=req.masks)
    else:
        root = Path(req.dataset)
        parts = []
        for name in req.splits:
            split = None if (root / "images").is_dir() and not (root / name).is_dir() else name
            parts.append(resolve_dataset(root, spec, split=split))
        train = concat_datasets(parts)
    if req.val_holdout:
        return hold_out(train, list(req.val_holdout))
    val = resolve_dataset(req.dataset, spec, split=req.val_split) if req.val_split else None
    return train, val


def _cache(ds: Any, label: str, quiet: bool) -> FrameCache:
    bar = Progress(len(ds), label, enabled=False if quiet else None)
    frames = FrameCache(ds, on_item=bar.update)
    bar.close()
    return frames


def _model_plan(req: TrainRequest, spec: Spec, resume: bool) -> tuple[Callable[[], keras.Model], dict[str, Any], list]:
    """The model factory and the manifest's model section."""
    from edgeseg import models

    m, skipped = req.model, []
    source = Path(req.out) / outputs.LAST if resume else m.init
    if source is not None:
        # the run's own manifest when resuming (its model section, options included), else the --from model's
        prior = find_model_manifest(source) if resume else find_model_manifest(m.init) if m.init else None
        section = dict(prior.get("model", {})) if prior is not None else {}
        model = outputs.load_model(source)
        section.setdefault("architecture", m.name or model.name)
        section["input_size"] = [int(model.input_shape[1]), int(model.input_shape[2])]
        if "output_stride" not in section:
            section["output_stride"] = models.input_multiple(m.name, **m.options) if m.name else 1
        if m.qat and not resume:
            from edgeseg.train.qat import quantize_for_training

            model, skipped = quantize_for_training(model)
        return (lambda: model), section, skipped
    options = models.resolve_options(m.name, **m.options)
    size = req.data.input_size or spec.input_size
    stride = models.input_multiple(m.name, **options)
    section = {"architecture": models.get_info(m.name).name, "options": options, "output_stride": stride,
               "input_size": list(size)}

    def build() -> keras.Model:
        return models.build(m.name, spec.num_classes, size, **options)

    return build, section, skipped


def _augment(req: AugmentRequest) -> Augment:
    if not req.enabled:
        return Augment.none()
    return Augment(scale=req.scale, rotation=req.rotation, brightness=req.brightness, contrast=req.contrast,
                   saturation=req.saturation, gamma=req.gamma, channel_gain=req.channel_gain)


def train(request: TrainRequest, spec: Spec, *, resume: bool = False, echo: Echo | None = None,
          quiet: bool = False, command: str | None = None) -> TrainResult:
    """Run (or with ``resume``, continue) the training ``request`` describes; ``echo`` gets one line per step
    worth telling (default: the log); ``command`` is recorded in the manifest as the run's command line."""
    req, echo = request, echo or log.info
    request.check(resume=resume)
    set_threads(req.threads)
    strategy = make_strategy(req.strategy, req.cpu_replicas)
    precision = resolve_precision(req.precision or "auto", qat=req.model.qat)
    if req.seed is not None:
        keras.utils.set_random_seed(req.seed)
        tf.config.experimental.enable_op_determinism()
    out = Path(req.out)
    if not resume and (out / outputs.STATE).exists():
        raise UsageError(f"{out} already holds a run; continue it with --resume or choose another --out")
    train_ds, val_ds = _datasets(req.data, spec)
    frames = _cache(train_ds, "reading train", quiet)
    val = _cache(val_ds, "reading val", quiet) if val_ds is not None else None
    echo(f"training on {len(train_ds)} frames ({_sequences(train_ds)}); "
         + (f"validating on {len(val_ds)} ({_sequences(val_ds)})" if val_ds is not None
            else "no validation: a fixed schedule, best.h5 = the last epoch"))
    echo(f"precision {precision.name} ({precision.reason})")
    model_fn, model_section, skipped = _model_plan(req, spec, resume)
    if skipped:
        echo(f"qat: left unquantised ({len(skipped)}): {', '.join(skipped)}")
    size = tuple(model_section["input_size"])
    crop = req.data.crop
    aug = _augment(req.augment)
    pipe = PipelineConfig(input_size=size, crop=crop, fit=req.data.fit,
                          output_stride=int(model_section["output_stride"]), augment=aug)
    counts = frames.class_pixel_counts() if req.class_weights in ("median", "enet") else (None, None)
    weights = resolve_class_weights(req.class_weights, spec, *counts)
    epochs = req.total_epochs
    steps = min(len(frames) // req.batch_size, req.steps_per_epoch or 10**9)
    o = req.optim
    optim = OptimConfig(o.optimizer, req.peak_lr, o.momentum, o.weight_decay, o.schedule,
                        int(round(o.warmup_epochs * steps)), ema=o.ema)
    jit = {"auto": None, "on": True, "off": False}[req.jit]
    cfg = TrainConfig(epochs, req.batch_size, req.loss, weights, optim, req.seed or 0, jit, req.steps_per_epoch,
                      steps_per_execution=req.steps_per_execution, precision=precision.name, val_every=req.val_every)
    ran = dataclasses.replace(req, precision=precision.name)  # what ran: a --resume elsewhere goes on in it
    started = time.perf_counter()

    def manifest(summary: Summary) -> None:
        training = {
            "command": command or "edgeseg train", "request": ran.to_dict(), "args": args_of(ran),
            "epochs": epochs, "epochs_done": summary.epochs_done,
            "wall_time_s": round(summary.wall_seconds, 1), "best_epoch": summary.best_epoch,
            **({"best_val_miou": summary.best_miou, "best_val_miou_pct": round(100 * summary.best_miou, 2)}
               if val is not None else {"selection": "last epoch (no validation set)",
                                        "final_train_loss": summary.last_loss}),
            "precision": precision.name, "precision_reason": precision.reason,
            "per_class_iou": dict(zip(spec.class_names, summary.best_iou)) if summary.best_iou else None,
            "batch_size": req.batch_size, "steps_per_epoch": steps, "loss": req.loss, "class_weights": weights,
            "optimizer": optim.to_dict(), "augment": aug.to_dict(), "crop": list(crop) if crop else None,
            "seed": req.seed, "strategy": req.strategy, "replicas": trainer.strategy.num_replicas_in_sync,
            "qat": req.model.qat,
        }
        d = req.data
        dataset = {"path": str(Path(d.dataset or d.images).resolve()), "split": ",".join(d.splits),
                   "val_split": d.val_split, "val_holdout": ",".join(d.val_holdout) or None,
                   "count": len(frames), "val_count": len(val) if val is not None else 0,
                   "sequences": train_ds.sequences(), "val_sequences": val_ds.sequences() if val_ds else {}}
        if d.images is not None:  # calibration and verification read these folders back
            dataset.update(images=str(Path(d.images).resolve()), masks=str(Path(d.masks).resolve()))
        quant = ({"qat": True, "scheme": "tfmot default 8-bit", "unquantised_layers": skipped}
                 if req.model.qat else None)
        if trainer.chief:
            outputs.write_manifest(out, spec.with_(input_size=size), model=model_section, dataset=dataset,
                                   training=training, fit=d.fit, quantization=quant)

    def on_epoch(tr: Trainer, rec: EpochRecord, summary: Summary) -> None:
        val_text = ""
        if rec.val is not None:
            val_text = f"  val mIoU {100 * rec.val.miou:.2f} %  pixel acc {100 * rec.val.pixel_accuracy:.2f} %"
        best = " *" if summary.best_epoch == rec.epoch else ""
        echo(f"epoch {rec.epoch}/{epochs}  loss {rec.loss:.4f}  lr {rec.lr:.2e}  {rec.seconds:.1f}s{val_text}{best}")
        manifest(summary)

    progress = None if quiet else (lambda total, label: Progress(total, label))
    trainer = Trainer(model_fn, spec, pipe, cfg, frames, val, out, strategy, on_epoch, progress)
    if trainer.chief:
        out.mkdir(parents=True, exist_ok=True)
    summary = trainer.fit(resume=resume)
    manifest(summary)
    return TrainResult(out=out, epochs=epochs, epochs_done=summary.epochs_done, best_epoch=summary.best_epoch,
                       best_miou=summary.best_miou if val is not None else float("nan"), last_loss=summary.last_loss,
                       wall_seconds=time.perf_counter() - started, interrupted=summary.interrupted,
                       best=out / outputs.BEST, last=out / outputs.LAST, validated=val is not None)


def _sequences(ds: FolderDataset) -> str:
    return ", ".join(f"{name} {count}" for name, count in ds.sequences().items())


__all__ = ["train", "make_strategy"]
