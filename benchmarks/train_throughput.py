"""Training throughput: edgeseg's Trainer in fp32 and bf16 beside a plain ``model.compile(); model.fit()``.

Usage:
    .venv/bin/python benchmarks/train_throughput.py [--models enet,unet,linknet] [--precisions fp32,bf16]
        [--size HxW] [--batch N] [--data ../shared/camvid] [--frames 48] [--warmup 5] [--steps 15] [--rounds 2]
        [--floor] [--no-isolate] [--out FILE.json]

Each model trains at the crop size and batch its shipped recipe uses (ENet 240x320 batch 8, U-Net base 16
256x320 batch 8, LinkNet base 32 256x320 batch 8) unless ``--size``/``--batch`` say otherwise. Per model the
arms are the edgeseg Trainer in each of ``--precisions`` (``TrainConfig.precision``: the same loop, a
bf16 copy of the model) and plain ``fit`` in fp32.

Both arms train the same architecture (built twice from the same seed) on the same decoded frames
in the same process; measurements alternate (edgeseg, fit, edgeseg, fit, ...) because the machine
may be shared and its load varies. Each measurement is ``--warmup`` untimed steps then ``--steps``
timed ones. The edgeseg arm is the ``edgeseg train`` path with its defaults (random scale /
crop / flip / rotation / colour augmentation computed in tf.data, the custom step, adaptive steps
per graph call, XLA auto); the fit arm gets un-augmented normalised frames from a cached tf.data
pipeline (cheaper input) and ``SparseCategoricalCrossentropy(from_logits=True, ignore_class=void)``.
A third arm, the compute floor (skip with ``--no-floor``), runs only forward + backward + Adam on
one constant batch in a ``tf.function``: floor / fit bounds what any training loop can gain over
``fit`` with the same kernels.
Each model is measured in a fresh process of its own unless ``--no-isolate``.
Prints a markdown table and writes JSON (median images/s per arm, ratio, every measurement,
machine, versions, command).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _frames(data: Path, spec, count: int):
    from edgeseg.core.dataset import FolderDataset, resolve_dataset
    from edgeseg.data.pipeline import FrameCache

    if (data / "train").is_dir():
        ds = resolve_dataset(data, spec, split="train")
    else:
        ds = FolderDataset(data / "images", data / "masks", spec)
    return FrameCache(ds.subset(min(count, len(ds))))


def _fit_arm(args, spec, frames, size):
    """Plain Keras: compile + fit on a cached tf.data pipeline of the same frames."""
    from edgeseg import models
    from edgeseg._keras import keras, tf
    from edgeseg.data.pipeline import PipelineConfig, eval_inputs

    keras.utils.set_random_seed(0)
    model = models.build(args.model, spec.num_classes, size, **args.options)
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=spec.void_index))
    cfg = PipelineConfig(input_size=size, output_stride=1)
    ds = frames.source().map(lambda im, m: (eval_inputs(im, spec, cfg), m if size == tuple(m.shape[:2]) else
                                            tf.image.resize(m[..., None], size, "nearest")[..., 0]),
                             num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.cache().shuffle(len(frames), seed=0).repeat().batch(args.batch, drop_remainder=True)
    ds = ds.prefetch(tf.data.AUTOTUNE)

    def run(steps: int) -> None:
        model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)

    return run


def _edgeseg_arm(args, spec, frames, size, precision="fp32"):
    """The Trainer exactly as ``edgeseg train`` builds it (defaults), without files, in ``precision``."""
    from edgeseg import models
    from edgeseg._keras import keras
    from edgeseg.data.pipeline import PipelineConfig
    from edgeseg.train.loop import Trainer, TrainConfig

    keras.utils.set_random_seed(0)
    pipe = PipelineConfig(input_size=size, output_stride=models.input_multiple(args.model))
    total = (args.warmup + args.steps) * args.rounds
    epochs = -(-total // (len(frames) // args.batch)) + 1
    trainer = Trainer(lambda: models.build(args.model, spec.num_classes, size, **args.options), spec, pipe,
                      TrainConfig(epochs=epochs, batch_size=args.batch, precision=precision), frames)
    it = trainer.batches()

    def run(steps: int) -> None:
        trainer.train_steps(it, steps)

    return run


def _floor_arm(args, spec, size, precision="fp32"):
    """The compute floor: forward + backward + Adam on one constant batch, one tf.function per step.

    No input pipeline, no augmentation, no void masking, no metrics: only the kernels every trainer
    of this model must run. Its images/s over the fit arm's is the most any training loop could gain
    without faster kernels or less compute per image.
    """
    import numpy as np

    from edgeseg import models
    from edgeseg._keras import keras, tf

    keras.utils.set_random_seed(0)
    model = models.build(args.model, spec.num_classes, size, **args.options)
    if precision != "fp32":
        from edgeseg.train.precision import POLICIES, with_policy

        model = with_policy(model, POLICIES[precision])
    opt = keras.optimizers.Adam(1e-3)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(args.batch, *size, 3)).astype(np.float32))
    y = tf.constant(rng.integers(0, spec.num_classes, size=(args.batch, *size)).astype(np.int32))

    @tf.function
    def step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, tf.cast(logits, tf.float32)))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    def run(steps: int) -> None:
        for _ in range(steps):
            loss = step()
        float(loss)  # wait for the last step

    return run


def _measure(run, args) -> float:
    run(args.warmup)
    t = time.perf_counter()
    run(args.steps)
    return args.steps * args.batch / (time.perf_counter() - t)


#: Per model: builder options, training crop and batch of the shipped recipe (models/camvid-*/manifest.json).
RECIPES = {"enet": ({"activation": "relu"}, "240x320", 8), "unet": ({"base_width": 16}, "256x320", 8),
           "linknet": ({"base_width": 32}, "256x320", 8)}


def _one_model(args, name: str, spec, frames) -> dict:
    from edgeseg.core.spec import parse_size

    options, size_text, batch = RECIPES.get(name, ({}, "240x320", 8))
    margs = argparse.Namespace(**{**vars(args), "model": name, "options": options, "batch": args.batch or batch})
    size = parse_size(args.size or size_text)
    arms = {f"edgeseg-{p}": _edgeseg_arm(margs, spec, frames, size, p) for p in args.precisions}
    if args.fit:
        arms["fit-fp32"] = _fit_arm(margs, spec, frames, size)
    if args.floor:
        arms.update({f"floor-{p}": _floor_arm(margs, spec, size, p) for p in args.precisions})
    runs: dict[str, list[float]] = {k: [] for k in arms}
    for r in range(args.rounds):  # alternate arms: the machine's load drifts
        for arm, run in arms.items():
            runs[arm].append(_measure(run, margs))
            print(f"{name} round {r + 1}: {arm} {runs[arm][-1]:.2f} images/s", file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    out = {"model": name, "options": options, "input_size": list(size), "batch": margs.batch, "frames": len(frames),
           "images_per_s": {k: round(v, 3) for k, v in med.items()},
           "measurements": {k: [round(x, 3) for x in v] for k, v in runs.items()}}
    base = med.get("edgeseg-fp32")
    if base:
        out["gain_over_fp32"] = {k: round(v / base, 3) for k, v in med.items() if k.startswith("edgeseg-")}
    if "fit-fp32" in med:
        out["ratio_edgeseg_fp32_over_fit"] = round(med["edgeseg-fp32"] / med["fit-fp32"], 3) if base else None
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="enet,unet,linknet")
    p.add_argument("--precisions", default="fp32,bf16", help="edgeseg arms (fp32, bf16, fp16)")
    p.add_argument("--size", default=None, help="HxW for every model (default: each recipe's crop)")
    p.add_argument("--batch", type=int, default=None, help="batch for every model (default: each recipe's)")
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "camvid",
                   help="SegNet-layout dataset (train split) or images/+masks/ (default ../shared/camvid, "
                        "else samples/camvid)")
    p.add_argument("--frames", type=int, default=48, help="frames decoded and cached (default 48)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--no-fit", dest="fit", action="store_false", help="skip the plain model.fit arm")
    p.add_argument("--floor", action="store_true",
                   help="add compute-floor arms, one per precision (fwd + bwd + Adam on a constant batch, no pipeline)")
    p.add_argument("--no-isolate", dest="isolate", action="store_false",
                   help="measure all models in this process (default: each model in a fresh process)")
    p.add_argument("--out", type=Path, default=None, help="JSON file (default: print only)")
    args = p.parse_args()
    args.precisions = [x.strip() for x in args.precisions.split(",") if x.strip()]
    if not args.data.is_dir():
        args.data = REPO / "samples" / "camvid"
    from edgeseg.bench.system import machine_info, versions
    from edgeseg.core.presets import CAMVID
    from edgeseg.train.precision import cpu_flags

    names = [name.strip() for name in args.models.split(",") if name.strip()]
    if len(names) > 1 and args.isolate:
        results = [_in_subprocess(name) for name in names]
        count = results[0]["frames"]
    else:
        frames = _frames(args.data, CAMVID, args.frames)
        results = [_one_model(args, name, CAMVID, frames) for name in names]
        count = len(frames)
    ver = versions()
    ver["tf_keras"] = _dist_version("tf_keras")
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "frames": count, "data": str(args.data), "warmup_steps": args.warmup, "timed_steps": args.steps,
        "rounds": args.rounds, "models": results,
        "bf16_cpu_flags": sorted(cpu_flags() & {"avx512_bf16", "amx_bf16", "amx_tile"}),
        "machine": machine_info(), "versions": ver, "load_average": _loadavg(),
    }
    print(_markdown(result))
    if args.out:
        from edgeseg.core.fileio import write_text_atomic

        write_text_atomic(args.out, json.dumps(result, indent=2) + "\n")
    return 0


def _in_subprocess(name: str) -> dict:
    """This script for one model in a fresh process (same arguments otherwise): a model measured after
    another in one process ran up to 10 % slower in some arms (allocator and thread-pool state)."""
    import subprocess
    import tempfile

    argv, skip = [], False
    for a in sys.argv[1:]:
        if skip:
            skip = False
            continue
        if a in ("--models", "--out"):
            skip = True
            continue
        if not a.startswith(("--models=", "--out=")):
            argv.append(a)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "one.json"
        subprocess.run([sys.executable, __file__, *argv, "--models", name, "--out", str(out)], check=True,
                       stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())["models"][0]


def _dist_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in __import__("os").getloadavg()]
    except OSError:
        return None


def _markdown(r: dict) -> str:
    arms = sorted({a for m in r["models"] for a in m["images_per_s"]})
    lines = ["| model | input, batch | " + " | ".join(f"{a} img/s" for a in arms) + " | bf16 / fp32 |",
             "|---|---|" + "---|" * len(arms) + "---|"]
    for m in r["models"]:
        cells = [f"{m['images_per_s'][a]:.2f} ({', '.join(f'{x:.2f}' for x in m['measurements'][a])})"
                 if a in m["images_per_s"] else "-" for a in arms]
        gain = m.get("gain_over_fp32", {}).get("edgeseg-bf16")
        lines.append(f"| {m['model']} | {m['input_size'][0]}x{m['input_size'][1]}, {m['batch']} | "
                     + " | ".join(cells) + f" | {f'{gain:.2f}x' if gain else '-'} |")
    mach = r["machine"]
    lines.append(f"\nmedian (rounds) images/s on {mach['cpu']} ({mach['usable_cores']} cores, bf16 flags "
                 f"{', '.join(r['bf16_cpu_flags']) or 'none'}, load {r['load_average']}), "
                 f"TF {r['versions']['tensorflow']}; `{r['command']}`")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
