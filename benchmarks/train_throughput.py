"""Training throughput: edgeseg's Trainer vs a plain ``model.compile(); model.fit()`` of the same model.

Usage:
    .venv/bin/python benchmarks/train_throughput.py [--model enet] [--size 360x480] [--batch 8]
        [--data ../shared/camvid] [--frames 48] [--warmup 5] [--steps 15] [--rounds 2] [--no-floor] [--out FILE.json]

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
    model = models.build(args.model, spec.num_classes, size)
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


def _edgeseg_arm(args, spec, frames, size):
    """The Trainer exactly as ``edgeseg train`` builds it (defaults), without files."""
    from edgeseg import models
    from edgeseg._keras import keras
    from edgeseg.data.pipeline import PipelineConfig
    from edgeseg.train.loop import Trainer, TrainConfig

    keras.utils.set_random_seed(0)
    pipe = PipelineConfig(input_size=size, output_stride=models.input_multiple(args.model))
    total = (args.warmup + args.steps) * args.rounds
    epochs = -(-total // (len(frames) // args.batch)) + 1
    trainer = Trainer(lambda: models.build(args.model, spec.num_classes, size), spec, pipe,
                      TrainConfig(epochs=epochs, batch_size=args.batch), frames)
    it = trainer.batches()

    def run(steps: int) -> None:
        trainer.train_steps(it, steps)

    return run


def _floor_arm(args, spec, size):
    """The compute floor: forward + backward + Adam on one constant batch, one tf.function per step.

    No input pipeline, no augmentation, no void masking, no metrics: only the kernels every trainer
    of this model must run. Its images/s over the fit arm's is the most any training loop could gain
    without faster kernels or less compute per image.
    """
    import numpy as np

    from edgeseg import models
    from edgeseg._keras import keras, tf

    keras.utils.set_random_seed(0)
    model = models.build(args.model, spec.num_classes, size)
    opt = keras.optimizers.Adam(1e-3)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(args.batch, *size, 3)).astype(np.float32))
    y = tf.constant(rng.integers(0, spec.num_classes, size=(args.batch, *size)).astype(np.int32))

    @tf.function
    def step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="enet")
    p.add_argument("--size", default="360x480")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "camvid",
                   help="SegNet-layout dataset (train split) or images/+masks/ (default ../shared/camvid, "
                        "else samples/camvid)")
    p.add_argument("--frames", type=int, default=48, help="frames decoded and cached (default 48)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--no-floor", dest="floor", action="store_false",
                   help="skip the compute-floor arm (fwd + bwd + Adam on a constant batch, no pipeline)")
    p.add_argument("--out", type=Path, default=None, help="JSON file (default: print only)")
    args = p.parse_args()
    if not args.data.is_dir():
        args.data = REPO / "samples" / "camvid"
    sys.path.insert(0, str(REPO))
    from edgeseg.bench.system import machine_info, versions
    from edgeseg.core.presets import CAMVID
    from edgeseg.core.spec import parse_size

    size = parse_size(args.size)
    frames = _frames(args.data, CAMVID, args.frames)
    arms = {"edgeseg": _edgeseg_arm(args, CAMVID, frames, size), "fit": _fit_arm(args, CAMVID, frames, size)}
    if args.floor:
        arms["floor"] = _floor_arm(args, CAMVID, size)
    runs: dict[str, list[float]] = {k: [] for k in arms}
    for r in range(args.rounds):
        for name, run in arms.items():
            runs[name].append(_measure(run, args))
            print(f"round {r + 1}: {name} {runs[name][-1]:.2f} images/s", file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    ver = versions()
    ver["tf_keras"] = _dist_version("tf_keras")
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "model": args.model, "input_size": list(size), "batch": args.batch, "frames": len(frames),
        "data": str(args.data), "warmup_steps": args.warmup, "timed_steps": args.steps, "rounds": args.rounds,
        "images_per_s": {k: round(v, 3) for k, v in med.items()},
        "ratio_edgeseg_over_fit": round(med["edgeseg"] / med["fit"], 3),
        "ratio_floor_over_fit": round(med["floor"] / med["fit"], 3) if "floor" in med else None,
        "measurements": {k: [round(x, 3) for x in v] for k, v in runs.items()},
        "machine": machine_info(), "versions": ver, "load_average": _loadavg(),
    }
    print(_markdown(result))
    print(json.dumps(result, indent=2))
    if args.out:
        from edgeseg.core.fileio import write_text_atomic

        write_text_atomic(args.out, json.dumps(result, indent=2) + "\n")
    return 0


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
    m = r["machine"]
    lines = [f"| arm | median images/s | runs |", "|---|---|---|"]
    for k, v in r["images_per_s"].items():
        lines.append(f"| {k} | {v:.2f} | {', '.join(f'{x:.2f}' for x in r['measurements'][k])} |")
    lines.append(f"\n{r['model']} {r['input_size'][0]}x{r['input_size'][1]}, batch {r['batch']}: "
                 f"edgeseg / fit = {r['ratio_edgeseg_over_fit']:.2f}x"
                 + (f", compute floor / fit = {r['ratio_floor_over_fit']:.2f}x (the most any loop could gain)"
                    if r.get("ratio_floor_over_fit") else "")
                 + f" on {m['cpu']} ({m['usable_cores']} cores, "
                 f"load {r['load_average']}), TF {r['versions']['tensorflow']}; `{r['command']}`")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
