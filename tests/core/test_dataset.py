"""Folder datasets: layouts, pairing, mask formats and one-line errors naming the file."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from edgeseg.core.dataset import FolderDataset, resolve_dataset
from edgeseg.core.presets import CAMVID
from edgeseg.core.preprocess import resize_bilinear, resize_nearest
from edgeseg.errors import DataError


def _write_pair(root, stem, image=None, mask=None, size=(8, 6)):
    w, h = size
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    img = image if image is not None else Image.fromarray(np.full((h, w, 3), 100, np.uint8))
    img.save(root / "images" / f"{stem}.png")
    m = mask if mask is not None else Image.fromarray(np.arange(h * w, dtype=np.uint8).reshape(h, w) % 12)
    m.save(root / "masks" / f"{stem}.png")


def test_samples_layout(samples_dir):
    ds = resolve_dataset(samples_dir, CAMVID)
    assert len(ds) == 11 and ds.has_masks
    image, mask = ds.read(0)
    assert image.shape == (360, 480, 3) and image.dtype == np.uint8
    assert mask.shape == (360, 480) and mask.max() <= 11


def test_segnet_layout_needs_split(camvid_dir):
    with pytest.raises(DataError, match="choose one with --split"):
        resolve_dataset(camvid_dir, CAMVID)
    assert len(resolve_dataset(camvid_dir, CAMVID, split="val")) == 101
    with pytest.raises(DataError, match="no split 'test'"):
        resolve_dataset(camvid_dir, CAMVID, split="test")


def test_explicit_folders(samples_dir):
    ds = resolve_dataset(None, CAMVID, images=samples_dir / "images", masks=samples_dir / "masks")
    assert len(ds) == 11


def test_rgb_colour_masks_map_through_palette(tmp_path, samples_dir):
    ds = resolve_dataset(samples_dir, CAMVID)
    index = ds.read_mask(0)
    colour = np.asarray(CAMVID.palette, np.uint8)[index]
    _write_pair(tmp_path, "a", image=Image.fromarray(ds.read_image(0)), mask=Image.fromarray(colour))
    np.testing.assert_array_equal(resolve_dataset(tmp_path, CAMVID).read_mask(0), index)


def test_label_remap(tmp_path):
    spec = CAMVID.with_(name="pets", class_names=("pet", "bg", "edge"), palette=(), void_index=None,
                        class_weights=None, label_remap={1: 0, 2: 1, 3: 2})
    trimap = np.array([[1, 2, 3, 1]] * 2, np.uint8)
    _write_pair(tmp_path, "p", mask=Image.fromarray(trimap), size=(4, 2))
    np.testing.assert_array_equal(resolve_dataset(tmp_path, spec).read_mask(0), trimap - 1)


def _expect(tmp_path, msg, name=None):
    with pytest.raises(DataError, match=msg) as exc:
        ds = resolve_dataset(tmp_path, CAMVID)
        for i in range(len(ds)):
            ds.read(i)
    assert "\n" not in str(exc.value)
    if name:
        assert name in str(exc.value)


def test_errors_name_the_file(tmp_path):
    _expect(tmp_path / "nope", "no such dataset folder")
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    _expect(tmp_path, "no images found")
    _write_pair(tmp_path, "a")
    (tmp_path / "masks" / "a.png").rename(tmp_path / "masks" / "b.png")
    _expect(tmp_path, "has no label map", "a.png")
    (tmp_path / "masks" / "b.png").rename(tmp_path / "masks" / "a.png")
    Image.fromarray(np.zeros((6, 8), np.uint8)).save(tmp_path / "masks" / "c.png")
    _expect(tmp_path, "has no image", "c.png")


@pytest.mark.parametrize("case,msg", [
    ("truncated", "truncated|unreadable|not a readable"),
    ("notimage", "not a readable image"),
    ("grayscale", "grayscale"),
    ("rgba", "RGBA"),
    ("mask16", "16/32-bit"),
    ("badlabel", "label value 200 is outside"),
    ("sizes", "label map is 4x3 but its image is 8x6"),
    ("badcolour", "not in the camvid palette"),
])
def test_bad_files(tmp_path, case, msg):
    _write_pair(tmp_path, "a")
    img, mask = tmp_path / "images" / "a.png", tmp_path / "masks" / "a.png"
    if case == "truncated":
        img.write_bytes(img.read_bytes()[:40])
    elif case == "notimage":
        img.write_bytes(b"this is not a png")
    elif case == "grayscale":
        Image.fromarray(np.zeros((6, 8), np.uint8)).save(img)
    elif case == "rgba":
        Image.fromarray(np.zeros((6, 8, 4), np.uint8)).save(img)
    elif case == "mask16":
        Image.fromarray(np.zeros((6, 8), np.uint16)).save(mask)
    elif case == "badlabel":
        Image.fromarray(np.full((6, 8), 200, np.uint8)).save(mask)
    elif case == "sizes":
        Image.fromarray(np.zeros((3, 4), np.uint8)).save(mask)
    elif case == "badcolour":
        Image.fromarray(np.full((6, 8, 3), 7, np.uint8)).save(mask)
    _expect(tmp_path, msg, "a.png")


def test_subset_is_deterministic(samples_dir):
    ds = resolve_dataset(samples_dir, CAMVID)
    assert [s.stem for s in ds.subset(3).samples] == [s.stem for s in ds.samples[:3]]


def test_resize_matches_tensorflow_semantics():
    # Half-pixel-centre bilinear: upsampling 2 -> 4 pixels gives these exact values.
    x = np.array([[[0.0], [4.0]]], np.float32)  # 1x2x1
    out = resize_bilinear(x, (1, 4))[0, :, 0]
    np.testing.assert_allclose(out, [0.0, 1.0, 3.0, 4.0])
    lab = np.array([[1, 2], [3, 4]])
    np.testing.assert_array_equal(resize_nearest(lab, (4, 4)),
                                  [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
