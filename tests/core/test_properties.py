"""Property tests (hypothesis) for the metrics and for image/mask pairing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from edgeseg.core.dataset import FolderDataset
from edgeseg.core.metrics import ConfusionMatrix
from edgeseg.core.presets import CAMVID
from edgeseg.errors import DataError

VOID = 11


@st.composite
def label_pairs(draw):
    n = draw(st.integers(2, 8))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n, (h, w))
    pred = rng.integers(0, n, (h, w))
    void = rng.random((h, w)) < draw(st.floats(0, 0.9))
    truth = np.where(void, VOID, truth)
    return n, truth, pred, rng


def _miou(n, truth, pred):
    cm = ConfusionMatrix(n, VOID)
    cm.update(truth, pred)
    return cm.scores()


@settings(max_examples=80, deadline=None)
@given(label_pairs())
def test_miou_invariant_to_relabelling(case):
    n, truth, pred, rng = case
    perm = rng.permutation(n)
    relabel = lambda a: np.where(a == VOID, VOID, perm[np.minimum(a, n - 1)])  # noqa: E731
    a, b = _miou(n, truth, pred), _miou(n, relabel(truth), relabel(pred))
    assert (np.isnan(a.miou) and np.isnan(b.miou)) or a.miou == pytest.approx(b.miou)
    assert a.pixel_accuracy == pytest.approx(b.pixel_accuracy, nan_ok=True)


@settings(max_examples=80, deadline=None)
@given(label_pairs())
def test_identical_maps_score_one(case):
    n, truth, _, _ = case
    pred = np.where(truth == VOID, 0, truth)
    s = _miou(n, truth, pred)
    if (truth != VOID).any():
        assert s.miou == 1.0 and s.pixel_accuracy == 1.0 and s.mean_dice == 1.0
    else:
        assert s.pixels == 0


@settings(max_examples=80, deadline=None)
@given(label_pairs())
def test_void_pixels_never_count(case):
    n, truth, pred, rng = case
    other = np.where(truth == VOID, rng.integers(0, n, truth.shape), pred)  # change preds under void only
    a, b = _miou(n, truth, pred), _miou(n, truth, other)
    assert a.pixels == int((truth != VOID).sum())
    np.testing.assert_array_equal(a.iou, b.iou)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sets(st.from_regex(r"[a-z0-9_]{1,8}", fullmatch=True), min_size=1, max_size=6),
       st.sets(st.from_regex(r"[a-z0-9_]{1,8}", fullmatch=True), max_size=3))
def test_pairing_by_stem(tmp_path_factory, stems, extra):
    root = tmp_path_factory.mktemp("pairs")
    (root / "images").mkdir()
    (root / "masks").mkdir()
    img = Image.fromarray(np.zeros((2, 2, 3), np.uint8))
    lab = Image.fromarray(np.zeros((2, 2), np.uint8))
    for s in stems:
        img.save(root / "images" / f"{s}.jpg")
        lab.save(root / "masks" / f"{s}.png")
    orphans = extra - stems
    for s in orphans:
        lab.save(root / "masks" / f"{s}.png")
    if orphans:
        with pytest.raises(DataError, match="has no image"):
            FolderDataset(root / "images", root / "masks", CAMVID)
    else:
        ds = FolderDataset(root / "images", root / "masks", CAMVID)
        assert [x.stem for x in ds.samples] == sorted(stems)
        assert all(x.image.stem == x.mask.stem for x in ds.samples)
