"""One ``edgeseg train`` run: devices and strategy, data, model, Trainer, manifest (called by the CLI)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

from edgeseg._keras import keras, set_threads, tf
from edgeseg.core.dataset import FolderDataset, concat_datasets, hold_out, resolve_dataset
from edgeseg.core.manifest import find_model_manifest
from edgeseg.core.progress import Progress
from edgeseg.core.spec import Spec, parse_size
from edgeseg.data.augment import Augment
from edgeseg.data.pipeline import FrameCache, PipelineConfig
from edgeseg.errors import UsageError
from edgeseg.train import outputs
from edgeseg.train.loop import EpochRecord, Summary, Trainer, TrainConfig
from edgeseg.train.optim import OptimConfig
from edgeseg.train.precision import resolve_precision
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


def parse_options(items: list[str]) -> dict[str, Any]:
    """``k=v`` builder options; values are JSON when they parse as JSON (numbers, true, [1,2]), else strings."""
    import json

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--model-option needs KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def _datasets(args: argparse.Namespace, spec: Spec) -> tuple[FolderDataset, FolderDataset | None]:
    """Training frames (one or several splits, less any held-out sequences) and validation frames."""
    if args.images is not None:
        train = resolve_dataset(None, spec, images=args.images, masks=args.masks)
    else:
        root = Path(args.dataset)
        parts = []
        for name in (s.strip() for s in args.split.split(",")):
            split = None if (root / "images").is_dir() and not (root / name).is_dir() else name
            parts.append(resolve_dataset(root, spec, split=split))
        train = concat_datasets(parts)
    holdout = getattr(args, "val_holdout", None)
    if holdout:
        return hold_out(train, holdout.split(","))
    val = resolve_dataset(args.dataset, spec, split=args.val_split) if args.val_split else None
    return train, val


def _cache(ds: Any, label: str, quiet: bool) -> FrameCache:
    bar = Progress(len(ds), label, enabled=False if quiet else None)
    frames = FrameCache(ds, on_item=bar.update)
    bar.close()
    return frames


def _model_plan(args: argparse.Namespace, spec: Spec) -> tuple[Callable[[], keras.Model], dict[str, Any], list]:
    """The model factory and the manifest's model section."""
    from edgeseg import models

    skipped: list[str] = []
    if args.resume:
        source = Path(args.out) / outputs.LAST
    else:
        source = args.init
    if source is not None:
        prior = find_model_manifest(args.init) if args.init is not None else None
        section = dict(prior.get("model", {})) if prior is not None else {}
        model = outputs.load_model(source)
        section.setdefault("architecture", args.model or model.name)
        section["input_size"] = [int(model.input_shape[1]), int(model.input_shape[2])]
        if "output_stride" not in section:
            section["output_stride"] = (models.input_multiple(args.model, **parse_options(args.model_option))
                                        if args.model else 1)
        if args.qat and not args.resume:
            from edgeseg.train.qat import quantize_for_training

            model, skipped = quantize_for_training(model)
        return (lambda: model), section, skipped
    options = models.resolve_options(args.model, **parse_options(args.model_option))
    size = parse_size(args.input_size) if args.input_size else spec.input_size
    stride = models.input_multiple(args.model, **options)
    section = {"architecture": models.get_info(args.model).name, "options": options, "output_stride": stride,
               "input_size": list(size)}

    def build() -> keras.Model:
        return models.build(args.model, spec.num_classes, size, **options)

    return build, section, skipped


def run_session(args: argparse.Namespace, spec: Spec, echo: Echo) -> int:
    """Run the training described by the CLI arguments; returns the exit code."""
    set_threads(args.threads)
    strategy = make_strategy(args.strategy, args.cpu_replicas)
    precision = resolve_precision(getattr(args, "precision", None) or "auto", qat=bool(args.qat))
    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)
        tf.config.experimental.enable_op_determinism()
    out = Path(args.out)
    if not args.resume and (out / outputs.STATE).exists():
        raise UsageError(f"{out} already holds a run; continue it with --resume or choose another --out")
    train_ds, val_ds = _datasets(args, spec)
    train = _cache(train_ds, "reading train", args.quiet)
    val = _cache(val_ds, "reading val", args.quiet) if val_ds is not None else None
    echo(f"training on {len(train_ds)} frames ({_sequences(train_ds)}); "
         + (f"validating on {len(val_ds)} ({_sequences(val_ds)})" if val_ds is not None
            else "no validation: a fixed schedule, best.h5 = the last epoch"))
    echo(f"precision {precision.name} ({precision.reason})")
    model_fn, model_section, skipped = _model_plan(args, spec)
    if skipped:
        echo(f"qat: left unquantised ({len(skipped)}): {', '.join(skipped)}")
    size = tuple(model_section["input_size"])
    crop = parse_size(args.crop) if args.crop else None
    lo, hi = (float(v) for v in args.scale.split(","))
    colour = {k: getattr(args, k) for k in ("brightness", "contrast", "saturation", "gamma", "channel_gain")
              if getattr(args, k, None) is not None}
    aug = Augment.none() if args.no_augment else Augment(scale=(lo, hi), rotation=args.rotation, **colour)
    pipe = PipelineConfig(input_size=size, crop=crop, fit=args.fit, output_stride=int(model_section["output_stride"]),
                          augment=aug)
    counts = train.class_pixel_counts() if args.class_weights in ("median", "enet") else (None, None)
    weights = resolve_class_weights(args.class_weights, spec, *counts)
    epochs = args.epochs or (3 if args.qat else 100)
    lr = args.lr or (1e-4 if args.qat else (1e-3 if args.optimizer == "adam" else 1e-2))
    steps = min(len(train) // args.batch_size, args.steps_per_epoch or 10**9)
    optim = OptimConfig(args.optimizer, lr, args.momentum, args.weight_decay, args.schedule,
                        int(round(args.warmup_epochs * steps)), ema=getattr(args, "ema", 0.0) or 0.0)
    jit = {"auto": None, "on": True, "off": False}[args.jit]
    cfg = TrainConfig(epochs, args.batch_size, args.loss, weights, optim, args.seed or 0, jit, args.steps_per_epoch,
                      steps_per_execution=getattr(args, "steps_per_execution", None), precision=precision.name,
                      val_every=getattr(args, "val_every", 1) or 1)
    stored = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "handler"}
    stored["precision"] = precision.name  # what ran, so a --resume elsewhere goes on in the same precision
    started = time.perf_counter()

    def manifest(summary: Summary) -> None:
        training = {
            "command": " ".join(["edgeseg", *sys.argv[1:]]) if sys.argv else "edgeseg train",
            "args": stored, "epochs": epochs, "epochs_done": summary.epochs_done,
            "wall_time_s": round(summary.wall_seconds, 1), "best_epoch": summary.best_epoch,
            **({"best_val_miou": summary.best_miou, "best_val_miou_pct": round(100 * summary.best_miou, 2)}
               if val is not None else {"selection": "last epoch (no validation set)",
                                        "final_train_loss": summary.last_loss}),
            "precision": precision.name, "precision_reason": precision.reason,
            "per_class_iou": dict(zip(spec.class_names, summary.best_iou)) if summary.best_iou else None,
            "batch_size": args.batch_size, "steps_per_epoch": steps, "loss": args.loss, "class_weights": weights,
            "optimizer": optim.to_dict(), "augment": aug.to_dict(), "crop": list(crop) if crop else None,
            "seed": args.seed, "strategy": args.strategy, "replicas": trainer.strategy.num_replicas_in_sync,
            "qat": bool(args.qat),
        }
        dataset = {"path": str(Path(args.dataset or args.images).resolve()), "split": args.split,
                   "val_split": args.val_split, "val_holdout": getattr(args, "val_holdout", None),
                   "count": len(train), "val_count": len(val) if val is not None else 0,
                   "sequences": train_ds.sequences(), "val_sequences": val_ds.sequences() if val_ds else {}}
        if args.images is not None:  # calibration and verification read these folders back
            dataset.update(images=str(Path(args.images).resolve()), masks=str(Path(args.masks).resolve()))
        quant = {"qat": True, "scheme": "tfmot default 8-bit", "unquantised_layers": skipped} if args.qat else None
        if trainer.chief:
            outputs.write_manifest(out, spec.with_(input_size=size), model=model_section, dataset=dataset,
                                   training=training, fit=args.fit, quantization=quant)

    def on_epoch(tr: Trainer, rec: EpochRecord, summary: Summary) -> None:
        val_text = ""
        if rec.val is not None:
            val_text = f"  val mIoU {100 * rec.val.miou:.2f} %  pixel acc {100 * rec.val.pixel_accuracy:.2f} %"
        best = " *" if summary.best_epoch == rec.epoch else ""
        echo(f"epoch {rec.epoch}/{epochs}  loss {rec.loss:.4f}  lr {rec.lr:.2e}  {rec.seconds:.1f}s{val_text}{best}")
        manifest(summary)

    progress = None if args.quiet else (lambda total, label: Progress(total, label))
    trainer = Trainer(model_fn, spec, pipe, cfg, train, val, out, strategy, on_epoch, progress)
    if trainer.chief:
        out.mkdir(parents=True, exist_ok=True)
    summary = trainer.fit(resume=args.resume)
    manifest(summary)
    took = time.perf_counter() - started
    if summary.interrupted:
        echo(f"interrupted: saved {out / outputs.LAST} after {summary.epochs_done} epoch(s); "
             f"continue with: edgeseg train --out {out} --resume")
        return 130
    if val is not None:
        echo(f"done in {took:.0f}s: best val mIoU {100 * summary.best_miou:.2f} % at epoch {summary.best_epoch} "
             f"-> {out / outputs.BEST}")
    else:
        echo(f"done in {took:.0f}s: last epoch {summary.best_epoch}, train loss {summary.last_loss:.4f} "
             f"-> {out / outputs.BEST}")
    return 0


def _sequences(ds: FolderDataset) -> str:
    return ", ".join(f"{name} {count}" for name, count in ds.sequences().items())


__all__ = ["run_session", "make_strategy", "parse_options"]
