"""Cost of the training input pipeline: edgeseg's augmentation with and without XLA, and one sample's
resampling against TensorFlow's ``ImageProjectiveTransformV3``.

Usage:
    .venv/bin/python benchmarks/augment_speed.py [--size 256x320] [--batch 8] [--frames 48] [--batches 40]
        [--rounds 3] [--data ../shared/camvid] [--out FILE.json]

Arms (alternating, ``--rounds`` each):
- ``pipeline-xla``: ``train_dataset`` as ``edgeseg train`` builds it (default augmentation: scale, crop,
  flip, rotation, colour), per-sample resampling + colour + normalisation XLA-compiled (the default);
- ``pipeline-plain``: the same ops run one by one (``edgeseg.data.augment.JIT = False``);
- ``warp-tf-op`` / ``warp-edgeseg``: one 360x480 RGBA uint8 frame resampled to the crop size with a
  fixed affine map by ``ImageProjectiveTransformV3`` (what sessions 1-6 used) and by edgeseg's compiled
  renderer (which also applies the colour changes and the normalisation).
Pipeline figures are process CPU ms and wall ms per batch (the pipeline shares the 2 cores with the
training step, so its CPU time is what it takes from the step). Prints a table, writes JSON with the
machine, versions and command.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _pipeline_arm(frames, size, batch: int, batches: int, jit: bool):
    from edgeseg.data import augment
    from edgeseg.data.pipeline import PipelineConfig, train_dataset

    def run() -> tuple[float, float]:
        augment.JIT = jit
        augment._renderer.cache_clear()
        it = iter(train_dataset(frames, PipelineConfig(input_size=size, output_stride=32), batch, epochs=1000))
        for _ in range(5):  # compile, fill the prefetch buffer
            next(it)
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(batches):
            next(it)
        return (time.process_time() - cpu) / batches * 1e3, (time.perf_counter() - wall) / batches * 1e3

    return run


def _warp_arms(size, reps: int = 50):
    import numpy as np

    from edgeseg._keras import tf
    from edgeseg.data.augment import Augment, _renderer, pack_rgba

    rgba = np.random.default_rng(0).integers(0, 256, (360, 480, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    image, pixels = tf.constant(rgba), tf.constant(pack_rgba(rgba))
    labels = tf.zeros([360 * 480], tf.uint8)
    m = tf.constant([1.3, 0.05, 10.0, -0.05, 1.3, 5.0, 0.0, 0.0])
    tf_op = tf.function(lambda: tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None], transforms=m[None], output_shape=tf.constant(size, tf.int32),
        fill_value=tf.constant(0.0), interpolation="BILINEAR", fill_mode="CONSTANT"))
    render = _renderer(tuple(size), Augment(), False, 11)
    colour = tf.constant([0.05, 1.1, 1.0, 1.0, 1.0, 1.0, 1.0])
    ours = lambda: render(pixels, labels, tf.constant(0, tf.int64), tf.constant([360, 480], tf.int32), m, colour,  # noqa: E731
                          tf.zeros(3), tf.ones(3))

    def timed(fn):
        def run() -> tuple[float, float]:
            for _ in range(3):
                fn()
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(reps):
                fn()
            return (time.process_time() - cpu) / reps * 1e3, (time.perf_counter() - wall) / reps * 1e3
        return run

    return {"warp-tf-op": timed(tf_op), "warp-edgeseg": timed(ours)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="256x320")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--batches", type=int, default=40)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "camvid")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    from edgeseg.bench.system import machine_info, versions
    from edgeseg.core.dataset import FolderDataset, resolve_dataset
    from edgeseg.core.presets import CAMVID
    from edgeseg.core.spec import parse_size
    from edgeseg.data.pipeline import FrameCache

    size = parse_size(args.size)
    if (args.data / "train").is_dir():
        ds = resolve_dataset(args.data, CAMVID, split="train")
    else:
        ds = FolderDataset(REPO / "samples" / "camvid" / "images", REPO / "samples" / "camvid" / "masks", CAMVID)
    frames = FrameCache(ds.subset(min(args.frames, len(ds))))
    arms = {"pipeline-xla": _pipeline_arm(frames, size, args.batch, args.batches, True),
            "pipeline-plain": _pipeline_arm(frames, size, args.batch, args.batches, False), **_warp_arms(size)}
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in arms}
    for r in range(args.rounds):
        for name, run in arms.items():
            runs[name].append(run())
            print(f"round {r + 1}: {name} cpu {runs[name][-1][0]:.2f} ms, wall {runs[name][-1][1]:.2f} ms",
                  file=sys.stderr, flush=True)
    from edgeseg.data import augment

    augment.JIT = True
    unit = {"pipeline-xla": f"per batch of {args.batch}", "pipeline-plain": f"per batch of {args.batch}",
            "warp-tf-op": "per sample", "warp-edgeseg": "per sample"}
    print(f"| arm | unit | CPU ms (median) | wall ms (median) |\n|---|---|---:|---:|")
    for name, v in runs.items():
        print(f"| {name} | {unit[name]} | {statistics.median(x[0] for x in v):.2f} | {statistics.median(x[1] for x in v):.2f} |")
    if args.out:
        from edgeseg.core.fileio import write_text_atomic

        result = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "size": list(size), "batch": args.batch,
                  "frames": len(frames), "unit": unit,
                  "cpu_ms": {k: [round(x[0], 3) for x in v] for k, v in runs.items()},
                  "wall_ms": {k: [round(x[1], 3) for x in v] for k, v in runs.items()},
                  "machine": machine_info(), "versions": versions()}
        write_text_atomic(args.out, json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
