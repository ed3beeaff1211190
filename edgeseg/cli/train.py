"""``edgeseg train``: train (or QAT fine-tune) a zoo model; writes best/last .h5, history.csv, manifest.json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edgeseg.cli._common import add_spec_args, spec_from_args
from edgeseg.errors import UsageError


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
                   help="XLA for the training step (auto: on GPUs, off on CPU where it is slower)")
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
    """Handler of ``train``."""
    if args.resume:
        args = _resume_args(args)
    _validate(args)
    from edgeseg.train.session import run_session  # TensorFlow loads here

    return run_session(args, spec_from_args(args), _echo)


def _echo(text: str) -> None:
    print(text, flush=True)


def _validate(args: argparse.Namespace) -> None:
    if args.qat and args.init is None and not args.resume:
        raise UsageError("--qat needs --from MODEL.h5 (the trained float model)")
    if args.model is None and args.init is None:
        raise UsageError("give --model NAME (or --from MODEL.h5)")
    if args.dataset is None and args.images is None:
        raise UsageError("give --data DATASET (or --images DIR --masks DIR)")
    if args.images is not None and args.masks is None:
        raise UsageError("--images needs --masks")
    if args.val_holdout and args.val_split:
        raise UsageError("give --val-split or --val-holdout, not both")
    if args.images is not None and "," in args.split:
        raise UsageError("--split takes several splits with --data, not with --images/--masks")
    if args.qat and args.precision in ("bf16", "fp16"):
        raise UsageError("--qat trains in fp32 (the fake-quant ops are float32); drop --precision")
    if args.qat and args.ema:
        raise UsageError("--ema is for float training; QAT fine-tunes are too short to average")
    if not 0.0 <= args.ema < 1.0:
        raise UsageError(f"--ema must be in [0, 1), got {args.ema}")
    if args.cpu_replicas is not None and args.cpu_replicas < 1:
        raise UsageError("--cpu-replicas must be >= 1")
    for flag in ("threads", "epochs", "batch_size", "steps_per_epoch"):
        value = getattr(args, flag, None)
        if value is not None and value < 1:
            raise UsageError(f"--{flag.replace('_', '-')} must be >= 1, got {value}")


def _resume_args(args: argparse.Namespace) -> argparse.Namespace:
    """The original run's arguments, read from OUT/manifest.json (section training.args)."""
    manifest = args.out / "manifest.json"
    try:
        stored = json.loads(manifest.read_text(encoding="utf-8"))["training"]["args"]
    except (OSError, KeyError, ValueError, TypeError):
        raise UsageError(f"{args.out}: no resumable run (manifest.json with the training arguments)") from None
    stored.setdefault("precision", "fp32")  # runs from before --precision trained in fp32: they go on in it
    resumed = argparse.Namespace(**{**vars(args), **stored})
    for key in ("out", "init", "images", "masks", "spec"):
        if getattr(resumed, key, None) is not None:
            setattr(resumed, key, Path(getattr(resumed, key)))
    resumed.out, resumed.resume, resumed.quiet = args.out, True, args.quiet
    if args.epochs is not None:  # the one setting a resume may change: train for longer
        resumed.epochs = args.epochs
    return resumed
