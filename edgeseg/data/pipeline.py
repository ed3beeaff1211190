"""tf.data pipelines over a FolderDataset: decoded-frame cache, train (augmented) and eval (full frame).

Files are read and validated by :class:`edgeseg.core.dataset.FolderDataset` (pairing by stem,
RGB/palette masks, label remap), decoded once with a thread pool and kept in memory as uint8;
CamVid's 367 training frames take 190 MB. Training batches are random scales/crops/flips/rotations
of those frames (:mod:`edgeseg.data.augment`); eval batches are whole frames preprocessed exactly as
:func:`edgeseg.core.preprocess.preprocess` does, with the label map kept at native resolution.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from edgeseg._keras import tf
from edgeseg.core.dataset import FolderDataset
from edgeseg.core.spec import Spec
from edgeseg.data.augment import Augment, augment_frame, pack_rgba
from edgeseg.errors import DataError, UsageError

log = logging.getLogger(__name__)

FITS = ("resize", "pad")
#: Label used for out-of-frame/padded pixels when the spec has no void class.
IGNORE_WITHOUT_VOID = 255


def ignore_index(spec: Spec) -> int:
    """The label value losses and metrics skip: the spec's void, else 255."""
    return spec.void_index if spec.void_index is not None else IGNORE_WITHOUT_VOID


def round_up(n: int, multiple: int) -> int:
    """``n`` rounded up to a multiple of ``multiple``."""
    return -(-n // multiple) * multiple


@dataclass(frozen=True)
class PipelineConfig:
    """How frames become model inputs.

    Attributes:
        input_size: Model input ``(h, w)``; in ``resize`` mode frames are resized to it.
        crop: Training crop ``(h, w)`` taken from the (randomly scaled) frame; default ``input_size``.
        fit: ``resize`` (frames resized to ``input_size``) or ``pad`` (native resolution, padded
            bottom/right to a multiple of ``output_stride``; padding is void).
        output_stride: The model's total downsampling; sizes fed to it must be multiples of it.
        augment: Random ranges for training batches.
    """

    input_size: tuple[int, int]
    crop: tuple[int, int] | None = None
    fit: str = "resize"
    output_stride: int = 1
    augment: Augment = field(default_factory=Augment)

    def __post_init__(self) -> None:
        if self.fit not in FITS:
            raise UsageError(f"fit must be one of {FITS}, got {self.fit!r}")
        s = self.output_stride
        for name, size in (("crop", self.crop), ("input size", self.input_size if self.fit == "resize" else None)):
            if size is not None and (size[0] % s or size[1] % s):
                raise UsageError(f"{name} {size[0]}x{size[1]} is not a multiple of the model's output stride "
                                 f"{s}; use e.g. {round_up(size[0], s)}x{round_up(size[1], s)}"
                                 + (" or --fit pad" if name == "input size" else ""))

    @property
    def train_size(self) -> tuple[int, int]:
        """Size of training samples."""
        if self.crop is not None:
            return self.crop
        s = self.output_stride
        return (round_up(self.input_size[0], s), round_up(self.input_size[1], s))


class FrameCache:
    """Decoded uint8 frames and label maps of a dataset, held in memory.

    Args:
        ds: The dataset (already validated and paired).
        threads: Decoder threads (Pillow releases the GIL); default: CPU count.
        on_item: Called once per decoded frame (e.g. a progress bar's ``update``).
    """

    def __init__(self, ds: FolderDataset, threads: int | None = None,
                 on_item: Callable[[], None] | None = None) -> None:
        if not ds.has_masks:
            raise DataError(f"{ds.images_dir}: training and validation need a label map for every image")
        self.spec = ds.spec
        self.stems = [s.stem for s in ds.samples]

        def read(i: int) -> tuple[np.ndarray, np.ndarray]:
            pair = ds.read(i)
            if on_item:
                on_item()
            return pair  # type: ignore[return-value]

        with ThreadPoolExecutor(max_workers=threads or min(8, os.cpu_count() or 1)) as pool:
            pairs = list(pool.map(read, range(len(ds))))
        self.images = [p[0] for p in pairs]
        self.masks = [p[1] for p in pairs]
        self.uniform = len({im.shape for im in self.images}) == 1
        log.info("cached %d frames (%.1f MB)", len(self), self.nbytes / 1e6)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return sum(a.nbytes for a in self.images) + sum(a.nbytes for a in self.masks)

    def class_pixel_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-class pixel counts and, per class, labelled pixels of the images containing it."""
        n = self.spec.num_classes
        pixels = np.zeros(n, np.int64)
        image_pixels = np.zeros(n, np.int64)
        for m in self.masks:
            counts = np.bincount(m.reshape(-1), minlength=256)[:n]
            pixels += counts
            image_pixels[counts > 0] += int(counts.sum())
        return pixels, image_pixels

    def flat_tensors(self) -> dict[str, tf.Tensor]:
        """All frames as flat tensors plus offsets and shapes (built once), for random access from
        inside tf.data functions without copying a frame: ``pixels`` packed RGBA int32 with A = 255
        (:func:`edgeseg.data.augment.pack_rgba`; A is the coverage channel the augmentation resamples),
        ``labels`` uint8, and per frame the index of its first pixel (``offsets``) and ``(h, w)``."""
        if getattr(self, "_flat", None) is None:
            shapes = np.array([im.shape[:2] for im in self.images], np.int64)
            sizes = shapes[:, 0] * shapes[:, 1]
            off = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
            rgba = np.full((int(sizes.sum()), 4), 255, np.uint8)
            for im, o, n in zip(self.images, off, sizes):
                rgba[o:o + n, :3] = im.reshape(-1, 3)
            self._flat = {
                "pixels": tf.constant(pack_rgba(rgba)),
                "labels": tf.constant(np.concatenate([m.reshape(-1) for m in self.masks])),
                "offsets": tf.constant(off), "shapes": tf.constant(shapes.astype(np.int32)),
            }
        return self._flat

    def source(self) -> tf.data.Dataset:
        """``(image uint8 HxWx3, mask uint8 HxW)`` elements in dataset order."""
        if self.uniform:
            return tf.data.Dataset.from_tensor_slices((np.stack(self.images), np.stack(self.masks)))

        def gen():
            yield from zip(self.images, self.masks)

        sig = (tf.TensorSpec((None, None, 3), tf.uint8), tf.TensorSpec((None, None), tf.uint8))
        return tf.data.Dataset.from_generator(gen, output_signature=sig)


def _norm_constants(spec: Spec) -> tuple[tf.Tensor, tf.Tensor]:
    return tf.constant(spec.mean, tf.float32), tf.constant(spec.std, tf.float32)


def _options() -> tf.data.Options:
    opts = tf.data.Options()
    opts.deterministic = True
    return opts


def epoch_seed(seed: int | tf.Tensor, epoch: int | tf.Tensor) -> tf.Tensor:
    """The seed of one epoch's shuffle and augmentation (so a resumed run continues identically)."""
    e = tf.cast(epoch, tf.int64)
    return (tf.cast(seed, tf.int64) * 1_000_003 + e * 7919 + 17) % (2**31 - 1)


def train_dataset(frames: FrameCache, cfg: PipelineConfig, batch_size: int, *, seed: int = 0,
                  epoch: int = 0, epochs: int = 1, per_epoch: int | None = None,
                  shard: tuple[int, int] = (1, 0)) -> tf.data.Dataset:
    """Shuffled, augmented, batched ``(x float32 NHWC, y uint8 NHW)`` training data.

    The whole run is one dataset (the map function is traced once): epochs ``epoch ..
    epoch + epochs - 1`` follow each other, each with its own shuffle and random draws derived
    from ``(seed, epoch)``, so a run resumed at epoch ``e`` sees exactly what it would have seen.

    Args:
        batch_size: Batch size of this input pipeline (per replica under tf.distribute).
        per_epoch: Samples each epoch yields (cycling the shuffled order if needed; default: one
            pass, a multiple of ``batch_size``).
        shard: ``(count, index)``: keep every ``count``-th frame of the shuffled order (one
            input pipeline per worker; the same seed gives every worker the same permutation).
    """
    spec = frames.spec
    if batch_size < 1:
        raise UsageError("batch size must be >= 1")
    n = len(frames) // shard[0]
    if n < batch_size:
        raise UsageError(f"batch size {batch_size} is larger than the {n} training images")
    per_epoch = per_epoch or (n // batch_size) * batch_size
    mean, std = _norm_constants(spec)
    base = cfg.input_size if cfg.fit == "resize" else None
    out_hw = cfg.train_size
    void = ignore_index(spec)
    total = len(frames)
    flat = frames.flat_tensors()

    def aug(i: tf.Tensor, s: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return augment_frame(flat["pixels"], flat["labels"], flat["offsets"][i], flat["shapes"][i], s,
                             out_hw=out_hw, base_hw=base, aug=cfg.augment, mean=mean, std=std,
                             bgr=spec.channel_order == "BGR", void=void)

    def one_epoch(e: tf.Tensor) -> tf.data.Dataset:
        es = epoch_seed(seed, e)
        order = tf.random.experimental.stateless_shuffle(tf.range(total, dtype=tf.int64), seed=tf.stack([es, e]))
        ds = tf.data.Dataset.from_tensor_slices(order[shard[1]::shard[0]]).repeat().take(per_epoch)
        draws = tf.data.Dataset.from_tensor_slices(
            tf.random.stateless_uniform([per_epoch, 2], tf.stack([e, es]), minval=None, maxval=None, dtype=tf.int64))
        return tf.data.Dataset.zip((ds, draws))

    ds = tf.data.Dataset.range(epoch, epoch + epochs).flat_map(one_epoch)
    ds = ds.map(aug, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=True, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_options())


def eval_inputs(image: tf.Tensor, spec: Spec, cfg: PipelineConfig) -> tf.Tensor:
    """A full uint8 frame -> model input, as :func:`edgeseg.core.preprocess.preprocess` (resize) or
    normalised and padded bottom/right with 0 (the mean colour) to a multiple of the stride (pad)."""
    mean, std = _norm_constants(spec)
    x = tf.cast(image, tf.float32)
    if cfg.fit == "resize":
        x = tf.image.resize(x, cfg.input_size, method="bilinear", antialias=False)
    x = (x * (1.0 / 255.0) - mean) / std
    if spec.channel_order == "BGR":
        x = x[..., ::-1]
    if cfg.fit == "pad":
        h, w = tf.shape(x)[0], tf.shape(x)[1]
        s = cfg.output_stride
        x = tf.pad(x, [[0, (s - h % s) % s], [0, (s - w % s) % s], [0, 0]])
    return x


def eval_dataset(frames: FrameCache, cfg: PipelineConfig, batch_size: int = 1) -> tf.data.Dataset:
    """Frames in order as ``(x float32 NHWC, y uint8 NHW at native resolution)``.

    Frames of different sizes are batched one at a time.
    """
    spec = frames.spec
    ds = frames.source().map(lambda im, m: (eval_inputs(im, spec, cfg), m),
                             num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size if frames.uniform else 1)
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_options())
