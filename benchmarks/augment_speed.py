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
import sys
from pathlib import Path

from _per_call import alternate, per_call, table, write

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _pipeline_arm(frames, size, batch: int, batches: int, jit: bool):
    from edgeseg.data import augment
    from edgeseg.data.pipeline import PipelineConfig, train_dataset

    def run() -> tuple[float, float]:
        augment.JIT = jit
        it = iter(train_dataset(frames, PipelineConfig(input_size=size, output_stride=32), batch, epochs=1000))
        # the untimed batches compile and fill the prefetch buffer
        return per_call(lambda: next(it), batches, warmup=5)

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
    render = _renderer(tuple(size), Augment(), False, 11, True)
    colour = tf.constant([0.05, 1.1, 1.0, 1.0, 1.0, 1.0, 1.0])
    offset, hw = tf.constant(0, tf.int64), tf.constant([360, 480], tf.int32)

    def ours():
        return render(pixels, labels, offset, hw, m, colour, tf.zeros(3), tf.ones(3))

    return {"warp-tf-op": lambda: per_call(tf_op, reps, warmup=3),
            "warp-edgeseg": lambda: per_call(ours, reps, warmup=3)}


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
    runs = alternate(arms, args.rounds)
    from edgeseg.data import augment

    augment.JIT = True
    unit = {"pipeline-xla": f"per batch of {args.batch}", "pipeline-plain": f"per batch of {args.batch}",
            "warp-tf-op": "per sample", "warp-edgeseg": "per sample"}
    print(table(runs, unit))
    if args.out:
        write(args.out, runs, size=list(size), batch=args.batch, frames=len(frames), unit=unit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
