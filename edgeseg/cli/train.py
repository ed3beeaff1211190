"""``edgeseg train``: train (or QAT fine-tune) a zoo model; writes best/last .h5, history.csv, manifest.json."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from edgeseg.cli._common import add_spec_args, parse_remap, spec_from_args
from edgeseg.core.spec import Spec, parse_size
from edgeseg.errors import UsageError
from edgeseg.train.request import AugmentRequest, DataRequest, ModelRequest, OptimRequest, TrainRequest


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand."""
    p = sub.add_parser("train", help="train a segmentation model (or fine-tune it quantisation-aware)",
                       description="Train a zoo model on an image/label-map dataset; validates every epoch "
                                   "on full frames and keeps the best val mIoU in OUT/best.h5.")
    g = p.add_argument_group("model")
    g.add_argument("--model", default=None, help="architecture (see `edgeseg models`), e.g. enet, unet")
    g.add_argument("--model-option", action="append", default=[], metavar="K=V",
                   help="builder option, repeatable (e.g. width=0.5, base_width=16)")
    g.add_argument("--from", dest="init", type=Path, default=None, metavar="H5",
                   help="start from this .h5 (fine-tune; with --qat: the float model to quantise)")
    g.add_argument("--qat", action="store_true", help="quantisation-aware fine-tuning (tfmot) of --from")
    d = p.add_argument_group("data")
    d.add_argument("--data", dest="dataset", default=None, metavar="DATASET",
                   help="dataset folder: SegNet layout (<split>/, <split>annot/) or images/ + masks/")
    d.add_argument("--split", default="train", metavar="SPLIT[,SPLIT]",
                   help="training split(s), comma-separated (default: train; e.g. train,val)")
    d.add_argument("--val-split", default=None,
                   help="validation split (e.g. val); without it and --val-holdout: a fixed schedule, "
                        "best.h5 = the last epoch")
    d.add_argument("--val-holdout", default=None, metavar="PREFIX[,PREFIX]",
                   help="validate on whole sequences held out of the training frames: frames whose file name "
                        "starts with a prefix (CamVid: 0001TP) (default: none)")
    d.add_argument("--val-every", type=int, default=1, metavar="N",
                   help="validate every N epochs and after the last (default 1); best.h5 is the best validated "
                        "epoch")
    d.add_argument("--images", type=Path, default=None, metavar="DIR", help="training images (with --masks)")
    d.add_argument("--masks", type=Path, default=None, metavar="DIR", help="training label maps")
    d.add_argument("--input-size", default=None, metavar="HxW", help="model input size (default: the spec's)")
    d.add_argument("--crop", default=None, metavar="HxW", help="train on random crops of this size")
    d.add_argument("--fit", choices=("resize", "pad"), default="resize",
                   help="resize frames to --input-size, or keep them native and pad to the output stride")
    d.add_argument("--scale", default="0.75,1.5", metavar="MIN,MAX", help="random zoom range (default 0.75,1.5)")
    d.add_argument("--rotation", type=float, default=5.0, help="max random rotation, degrees (default 5)")
    d.add_argument("--brightness", type=float, default=0.1, help="max brightness shift on [0,1] pixels (default 0.1)")
    d.add_argument("--contrast", type=float, default=0.2, help="contrast factor range 1 +- C (default 0.2)")
    d.add_argument("--saturation", type=float, default=0.0, help="saturation factor range 1 +- S (default 0)")
    d.add_argument("--gamma", type=float, default=1.0,
                   help="gamma drawn from [1/G, G], log-uniform: dusk and shade (default 1 = none)")
    d.add_argument("--channel-gain", type=float, default=0.0,
                   help="per-channel gain range 1 +- K: colour casts, white balance (default 0)")
    d.add_argument("--no-augment", action="store_true", help="no random scale/rotation/flip/colour")
    add_spec_args(p)
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=int, default=None, help="epochs (default 100; 3 with --qat)")
    t.add_argument("--batch-size", type=int, default=8)
    t.add_argument("--steps-per-epoch", type=int, default=None, help="cap on steps per epoch")
    t.add_argument("--loss", default="ce",
                   help="ce, focal, dice, tversky, focal_tversky, log_cosh_dice, combo (= ce+dice), sens_spec, "
                        "exp_log, boundary, hausdorff_dt, or a weighted sum such as ce+dice+0.1*boundary "
                        "(default: ce)")
    t.add_argument("--class-weights", default="none", metavar="MODE",
                   help="none, median, enet, spec or w1,w2,... (ce, focal, combo). Weights raise rare-class "
                        "recall at the cost of their precision and of mIoU (docs/train.md)")
    t.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    t.add_argument("--lr", type=float, default=None, help="peak learning rate (adam 1e-3, sgd 1e-2; qat 1e-4)")
    t.add_argument("--momentum", type=float, default=0.9)
    t.add_argument("--weight-decay", type=float, default=0.0, help="decoupled weight decay")
    t.add_argument("--schedule", choices=("poly", "cosine", "constant"), default="poly")
    t.add_argument("--warmup-epochs", type=float, default=0.0)
    t.add_argument("--ema", type=float, default=0.0, metavar="MOMENTUM",
                   help="validate and save an exponential moving average of the weights (e.g. 0.995; "
                        "0: off); history.csv then also scores the raw weights (val_miou_raw)")
    t.add_argument("--seed", type=int, default=None, help="repeatable run (deterministic ops, same weights)")
    t.add_argument("--jit", choices=("auto", "on", "off"), default="auto",
                   help="XLA for the training step (auto: the whole step on GPUs; on CPU only the loss, its "
                        "convolutions are slower in XLA; off: no XLA at all)")
    t.add_argument("--steps-per-execution", type=int, default=None, metavar="N",
                   help="training steps per graph call (default: adaptive, about 0.5 s per call)")
    t.add_argument("--threads", type=int, default=None, help="TensorFlow intra/inter-op threads")
    t.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto",
                   help="compute precision of training (default: auto = bf16 where the CPU has AVX512-BF16/AMX "
                        "or the GPU bf16 tensor cores, else fp32). Mixed precision keeps float32 weights, loss "
                        "and metrics; saved .h5 files are plain float32; --qat always trains in fp32")
    t.add_argument("--strategy", choices=("none", "mirrored", "multiworker"), default="none",
                   help="tf.distribute strategy (multiworker reads TF_CONFIG)")
    t.add_argument("--cpu-replicas", type=int, default=None, metavar="N",
                   help="split the CPU into N logical devices (test distribution without GPUs)")
    p.add_argument("--out", type=Path, required=True, help="run folder")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from last.h5")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    """Handler of ``train``: build the request (or read the run's, with ``--resume``), train, report."""
    command = " ".join(["edgeseg", *sys.argv[1:]]) if sys.argv else "edgeseg train"
    if args.resume:  # the run's command stays the one that started it; the resume is appended
        request, first = _resumed(args)
        command = f"{first or 'edgeseg train'} ; {command}"
    else:
        request = request_of(args)
    request.check(resume=args.resume)
    spec = _spec(request.data)
    from edgeseg.train.session import train  # TensorFlow loads here

    result = train(request, spec, resume=args.resume, echo=_echo, quiet=args.quiet, command=command)
    if result.interrupted:
        from edgeseg.cli.main import EXIT_INTERRUPTED

        _echo(f"interrupted: saved {result.last} after {result.epochs_done} epoch(s); "
              f"continue with: edgeseg train --out {result.out} --resume")
        return EXIT_INTERRUPTED
    took = f"done in {result.wall_seconds:.0f}s"
    if result.validated:
        _echo(f"{took}: best val mIoU {100 * result.best_miou:.2f} % at epoch {result.best_epoch} -> {result.best}")
    else:
        _echo(f"{took}: last epoch {result.best_epoch}, train loss {result.last_loss:.4f} -> {result.best}")
    return 0


def _echo(text: str) -> None:
    print(text, flush=True)


def request_of(args: argparse.Namespace) -> TrainRequest:
    """The training request the flags describe (strings parsed; nothing checked across fields yet)."""
    model = ModelRequest(name=args.model, options=parse_options(args.model_option), init=args.init, qat=args.qat)
    data = DataRequest(dataset=Path(args.dataset) if args.dataset else None, splits=_names(args.split),
                       val_split=args.val_split, val_holdout=_names(args.val_holdout or ""), images=args.images,
                       masks=args.masks, preset=args.preset, spec=args.spec,
                       label_remap=parse_remap(args.label_remap) if args.label_remap else None,
                       input_size=parse_size(args.input_size) if args.input_size else None,
                       crop=parse_size(args.crop) if args.crop else None, fit=args.fit)
    try:
        lo, hi = (float(v) for v in args.scale.split(","))
    except ValueError:
        raise UsageError(f"--scale wants MIN,MAX, got {args.scale!r}") from None
    augment = AugmentRequest(enabled=not args.no_augment, scale=(lo, hi), rotation=args.rotation,
                             brightness=args.brightness, contrast=args.contrast, saturation=args.saturation,
                             gamma=args.gamma, channel_gain=args.channel_gain)
    optim = OptimRequest(optimizer=args.optimizer, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay,
                         schedule=args.schedule, warmup_epochs=args.warmup_epochs, ema=args.ema)
    return TrainRequest(out=args.out, model=model, data=data, augment=augment, optim=optim, loss=args.loss,
                        class_weights=args.class_weights, epochs=args.epochs, batch_size=args.batch_size,
                        steps_per_epoch=args.steps_per_epoch, val_every=args.val_every, seed=args.seed,
                        precision=args.precision, jit=args.jit, steps_per_execution=args.steps_per_execution,
                        threads=args.threads, strategy=args.strategy, cpu_replicas=args.cpu_replicas)


def parse_options(items: list[str]) -> dict[str, Any]:
    """``k=v`` builder options; values are JSON when they parse as JSON (numbers, true, [1,2]), else strings."""
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


def _names(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _spec(data: DataRequest) -> Spec:
    """The classes the request names (a preset or a spec file, with its label remap)."""
    spec = spec_from_args(argparse.Namespace(preset=data.preset, spec=data.spec, label_remap=None))
    return spec.with_(label_remap=data.label_remap) if data.label_remap else spec


def _resumed(args: argparse.Namespace) -> tuple[TrainRequest, str | None]:
    """The run's request, read from OUT/manifest.json (``training.request``, or ``training.args`` of older runs),
    and the command line that started the run (before any ``--resume``), if recorded. The run folder is where
    it is now, and ``--epochs`` is the one setting a resume may change (train longer)."""
    from edgeseg.train.request import request_from_training

    try:
        training = json.loads((args.out / "manifest.json").read_text(encoding="utf-8"))["training"]
        request = request_from_training(training)
    except (OSError, KeyError, ValueError, TypeError, AttributeError):
        raise UsageError(f"{args.out}: no resumable run (manifest.json with the training arguments)") from None
    first = str(training["command"]).split(" ; ")[0] if training.get("command") else None
    return replace(request, out=args.out, epochs=args.epochs or request.epochs), first
