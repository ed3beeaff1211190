"""tf.data pipeline: eval parity with core preprocessing, joint-augmentation alignment, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgeseg._keras import tf
from edgeseg.core.dataset import FolderDataset
from edgeseg.core.presets import CAMVID
from edgeseg.core.preprocess import preprocess
from edgeseg.core.spec import Spec
from edgeseg.data.augment import Augment, augment_pair
from edgeseg.data.pipeline import FrameCache, PipelineConfig, eval_dataset, train_dataset
from edgeseg.errors import UsageError

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "camvid"
# Six colours told apart by which channels are above the pixel's channel mean: a contrast or
# brightness change (same affine map on all channels) keeps that pattern.
PATTERNS = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]])
SPEC6 = Spec(name="blocks", class_names=tuple(f"c{i}" for i in range(6)), void_index=6,
             mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
STRONG = Augment(scale=(0.6, 1.8), rotation=15.0, hflip=True, brightness=0.15, contrast=0.3)


def blocky(h: int, w: int, block: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cls = rng.integers(0, 6, size=(h // block + 1, w // block + 1))
    mask = np.kron(cls, np.ones((block, block), np.int64))[:h, :w].astype(np.uint8)
    image = np.where(PATTERNS[mask] == 1, 170, 70).astype(np.uint8)
    return image, mask


def classify(x: np.ndarray, spec: Spec) -> np.ndarray:
    """Recompute the class of each pixel of a normalised image from its colour."""
    rgb = x * np.asarray(spec.std) + np.asarray(spec.mean)
    high = rgb > rgb.mean(axis=-1, keepdims=True)
    codes = high @ np.array([4, 2, 1])
    lut = np.full(8, -1)
    for i, p in enumerate(PATTERNS):
        lut[p @ np.array([4, 2, 1])] = i
    return lut[codes]


def interior(mask: np.ndarray, void: int, r: int = 2) -> np.ndarray:
    """Pixels whose (2r+1)^2 neighbourhood has one label that is not void."""
    h, w = mask.shape
    pad = np.pad(mask.astype(np.int64), r, constant_values=-1)
    ok = mask != void
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            ok &= pad[r + dy:r + dy + h, r + dx:r + dx + w] == mask
    return ok


def test_augmentation_keeps_image_and_mask_aligned() -> None:
    image, mask = blocky(72, 96, 12, seed=1)
    mean, std = tf.constant(SPEC6.mean, tf.float32), tf.constant(SPEC6.std, tf.float32)
    voids = 0
    for s in range(12):
        x, y = augment_pair(tf.constant(image), tf.constant(mask), tf.constant([s, 99], tf.int64),
                            out_hw=(64, 80), base_hw=(60, 80), aug=STRONG, mean=mean, std=std, bgr=False,
                            void=6)
        x, y = x.numpy(), y.numpy()
        assert x.shape == (64, 80, 3) and y.shape == (64, 80)
        assert set(np.unique(y)) <= set(range(7))
        keep = interior(y, 6)
        assert keep.mean() > 0.03
        agree = (classify(x, SPEC6) == y)[keep]
        assert agree.mean() == 1.0, f"seed {s}: {agree.mean():.4f} of interior pixels aligned"
        voids += int((y == 6).any())
    assert voids > 0  # scales < 1 and rotations must bring in out-of-frame (void) pixels


def test_misalignment_is_detected() -> None:
    # Guard for the test above: a one-block shift of the mask must be caught by the checker.
    image, mask = blocky(64, 80, 8, seed=2)
    x = (image / 255.0 - np.asarray(SPEC6.mean)) / np.asarray(SPEC6.std)
    shifted = np.roll(mask, 8, axis=1)
    keep = interior(shifted, 6)
    assert (classify(x, SPEC6) == shifted)[keep].mean() < 0.5


def _write_blocky_dataset(root: Path, n: int) -> FolderDataset:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        image, mask = blocky(60, 80, 10, seed=10 + i)
        Image.fromarray(image).save(root / "images" / f"f{i}.png")
        Image.fromarray(mask, mode="L").save(root / "masks" / f"f{i}.png")
    return FolderDataset(root / "images", root / "masks", SPEC6)


def test_train_pipeline_aligned_and_deterministic(tmp_path: Path) -> None:
    frames = FrameCache(_write_blocky_dataset(tmp_path, 4))
    cfg = PipelineConfig(input_size=(60, 80), crop=(48, 64), output_stride=4, augment=STRONG)
    a = list(train_dataset(frames, cfg, 2, seed=3, epoch=0, epochs=2))
    b = list(train_dataset(frames, cfg, 2, seed=3, epoch=0, epochs=2))
    c = list(train_dataset(frames, cfg, 2, seed=3, epoch=1))
    assert len(a) == 4 and len(c) == 2
    checked = 0
    for (xa, ya), (xb, yb) in zip(a, b):
        assert xa.shape == (2, 48, 64, 3) and xa.dtype == tf.float32 and ya.dtype == tf.uint8
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
        for x, y in zip(xa.numpy(), ya.numpy()):
            keep = interior(y, 6)
            checked += int(keep.sum())
            assert np.all((classify(x, SPEC6) == y)[keep])
    assert checked > 1000
    assert not np.array_equal(a[0][0].numpy(), c[0][0].numpy())
    # Epoch 1 alone (a resumed run) is exactly epoch 1 of the two-epoch run.
    np.testing.assert_array_equal(a[2][0].numpy(), c[0][0].numpy())


@pytest.mark.parametrize("order", ["RGB", "BGR"])
def test_eval_pipeline_matches_core_preprocess(order: str) -> None:
    spec = CAMVID.with_(channel_order=order)
    ds = FolderDataset(SAMPLES / "images", SAMPLES / "masks", spec).subset(3)
    frames = FrameCache(ds)
    cfg = PipelineConfig(input_size=(96, 128), output_stride=8)
    batches = list(eval_dataset(frames, cfg, batch_size=2))
    xs = np.concatenate([b[0].numpy() for b in batches])
    ys = np.concatenate([b[1].numpy() for b in batches])
    assert xs.shape == (3, 96, 128, 3) and ys.shape == (3, 360, 480)
    for i in range(3):
        image, mask = ds.read(i)
        np.testing.assert_allclose(xs[i], preprocess(image, spec, (96, 128)), atol=1e-4)
        np.testing.assert_array_equal(ys[i], mask)


def test_pad_mode_pads_to_stride_with_mean_colour() -> None:
    ds = FolderDataset(SAMPLES / "images", SAMPLES / "masks", CAMVID).subset(1)
    frames = FrameCache(ds)
    cfg = PipelineConfig(input_size=(360, 480), fit="pad", output_stride=32)
    x, y = next(iter(eval_dataset(frames, cfg)))
    assert x.shape == (1, 384, 480, 3) and y.shape == (1, 360, 480)
    assert np.all(x.numpy()[0, 360:] == 0.0)
    np.testing.assert_allclose(x.numpy()[0, :360], preprocess(ds.read(0)[0], CAMVID, (360, 480)), atol=1e-4)


def test_sizes_must_match_output_stride() -> None:
    with pytest.raises(UsageError, match="output stride"):
        PipelineConfig(input_size=(360, 480), output_stride=16)
    with pytest.raises(UsageError, match="crop"):
        PipelineConfig(input_size=(352, 480), crop=(100, 100), output_stride=16)
    PipelineConfig(input_size=(360, 480), fit="pad", output_stride=16)


def _colour_only(aug_kwargs: dict, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A frame pushed through colour changes only; returns (input rgb [0,1], output rgb [0,1], mask)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(20, 236, size=(24, 32, 3)).astype(np.uint8)
    mask = np.zeros((24, 32), np.uint8)
    zero, one = tf.zeros(3), tf.ones(3)
    aug = Augment(scale=(1.0, 1.0), rotation=0.0, hflip=False, **{"brightness": 0.0, "contrast": 0.0, **aug_kwargs})
    x, y = augment_pair(tf.constant(image), tf.constant(mask), tf.constant([seed, 7], tf.int64), out_hw=(24, 32),
                        base_hw=(24, 32), aug=aug, mean=zero, std=one, bgr=False, void=6)
    return image / 255.0, x.numpy(), y.numpy()


def test_photometric_changes_do_what_they_say() -> None:
    src, same, _ = _colour_only({})
    np.testing.assert_allclose(same, src, atol=1 / 255)  # no change drawn: the frame itself
    _, grey, _ = _colour_only({"saturation": 1.0}, seed=11)
    draws = [_colour_only({"saturation": 1.0}, seed=s)[1] for s in range(6)]
    spreads = [np.ptp(d, axis=-1).mean() / np.ptp(src, axis=-1).mean() for d in draws]
    assert min(spreads) < 0.9 and max(spreads) > 1.1 and all(s >= 0 for s in spreads)
    gammas = [_colour_only({"gamma": 2.0}, seed=s)[1] for s in range(8)]
    ratios = [float(np.log(np.clip(g, 1e-3, 1)).sum() / np.log(np.clip(src, 1e-3, 1)).sum()) for g in gammas]
    assert min(ratios) >= 0.5 - 0.02 and max(ratios) <= 2.0 + 0.02 and max(ratios) - min(ratios) > 0.3
    gains = [_colour_only({"channel_gain": 0.3}, seed=s)[1] for s in range(4)]
    for g in gains:  # one gain per channel, within range (clipped pixels aside)
        ok = g < 0.999
        per_channel = [np.median((g[..., c] / src[..., c])[ok[..., c]]) for c in range(3)]
        assert all(0.7 - 0.01 <= v <= 1.3 + 0.01 for v in per_channel) and np.ptp(per_channel) > 0.01


def test_colour_changes_keep_out_of_frame_pixels_at_the_mean_colour() -> None:
    image, mask = blocky(48, 64, 8, seed=5)
    mean, std = tf.constant(SPEC6.mean, tf.float32), tf.constant(SPEC6.std, tf.float32)
    aug = Augment(scale=(0.5, 0.6), rotation=10.0, saturation=0.5, gamma=2.0, channel_gain=0.2)
    x, y = augment_pair(tf.constant(image), tf.constant(mask), tf.constant([1, 2], tf.int64), out_hw=(48, 64),
                        base_hw=(48, 64), aug=aug, mean=mean, std=std, bgr=False, void=6)
    void = y.numpy() == 6
    outside = void.copy()  # void pixels whose 5x5 neighbourhood is void too: no partial coverage
    padded = np.pad(void, 2, constant_values=True)
    for dy in range(5):
        for dx in range(5):
            outside &= padded[dy:dy + 48, dx:dx + 64]
    assert outside.mean() > 0.1 and np.abs(x.numpy()[outside]).max() < 1e-5


@pytest.mark.parametrize("kwargs", [{"gamma": 0.5}, {"saturation": 1.5}, {"channel_gain": 1.0}])
def test_bad_colour_ranges_are_refused(kwargs: dict) -> None:
    with pytest.raises(UsageError):
        Augment(**kwargs)


def test_resampling_matches_tensorflows_projective_transform() -> None:
    """The gather-based resampling is ImageProjectiveTransformV3's (bilinear, CONSTANT fill 0 / nearest,
    fill void), to float rounding, also where the crop reaches past the frame."""
    from edgeseg.data.augment import _bilinear, _nearest, _pixel_grid, pack_rgba

    rng = np.random.default_rng(4)
    rgba = rng.integers(0, 256, size=(30, 40, 4), dtype=np.uint8)
    labels = rng.integers(0, 6, size=(30, 40), dtype=np.uint8)
    for past, m in ((False, [0.9, 0.1, 3.3, -0.1, 0.9, 2.7, 0, 0]), (True, [1.4, -0.2, -9.6, 0.2, 1.4, -7.1, 0, 0])):
        matrix = tf.constant(m, tf.float32)
        x, y = _pixel_grid(matrix, (24, 32))
        hw = tf.constant([30, 40])
        ours = _bilinear(tf.constant(pack_rgba(rgba)), tf.constant(0, tf.int64), hw, x, y)
        ref = tf.raw_ops.ImageProjectiveTransformV3(
            images=tf.constant(rgba, tf.float32)[None], transforms=matrix[None], output_shape=tf.constant([24, 32]),
            fill_value=tf.constant(0.0), interpolation="BILINEAR", fill_mode="CONSTANT")[0]
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), atol=1e-3)
        near = _nearest(tf.constant(labels.reshape(-1)), tf.constant(0, tf.int64), hw, x, y, 6)
        ref_near = tf.raw_ops.ImageProjectiveTransformV3(
            images=tf.constant(labels[None, ..., None]), transforms=matrix[None], output_shape=tf.constant([24, 32]),
            fill_value=tf.constant(6.0), interpolation="NEAREST", fill_mode="CONSTANT")[0, ..., 0]
        assert (near.numpy() != ref_near.numpy()).mean() < 0.01  # ties at exactly .5 may round either way
        assert (ref_near.numpy() == 6).any() == past  # the second map reaches past the frame


def test_compiled_augmentation_equals_the_plain_ops() -> None:
    from edgeseg.data import augment

    image, mask = blocky(48, 64, 8, seed=2)
    mean, std = tf.constant(SPEC6.mean, tf.float32), tf.constant(SPEC6.std, tf.float32)
    aug = Augment(scale=(0.5, 0.6), rotation=10.0, saturation=0.3, gamma=1.5, channel_gain=0.1)  # frame < crop
    outs = []
    try:
        for jit in (True, False):
            augment.JIT = jit
            outs.append(augment_pair(tf.constant(image), tf.constant(mask), tf.constant([5, 6], tf.int64),
                                     out_hw=(40, 56), base_hw=(48, 64), aug=aug, mean=mean, std=std, bgr=False, void=6))
    finally:
        augment.JIT = True
    (x_jit, y_jit), (x_plain, y_plain) = outs
    np.testing.assert_allclose(x_jit.numpy(), x_plain.numpy(), atol=1e-4)
    np.testing.assert_array_equal(y_jit.numpy(), y_plain.numpy())
    assert (y_jit.numpy() == 6).any() and (y_jit.numpy() != 6).any()
