"""Crop training: the network is rebuilt at the crop size and its weights flow back to the full-size model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeseg import models
from edgeseg.models.reshape import with_input_size


def test_with_input_size_shares_function_and_weights():
    full = models.build("enet", 5, (64, 96), width=0.25, activation="relu")
    crop = with_input_size(full, (32, 48))
    assert crop.input_shape == (None, 32, 48, 3) and crop.output_shape == (None, 32, 48, 5)
    assert with_input_size(full, (64, 96)) is full
    rng = np.random.default_rng(0)
    # Train-side change, then copy back: the full-size model must compute with the new weights.
    crop.set_weights([w + rng.normal(0, 0.01, w.shape).astype(w.dtype) for w in crop.get_weights()])
    full.set_weights(crop.get_weights())
    x = rng.normal(size=(1, 64, 96, 3)).astype(np.float32)
    rebuilt = with_input_size(crop, (64, 96))
    np.testing.assert_allclose(full(x, training=False), rebuilt(x, training=False), atol=1e-5)


def _check_weights_flowed_back(trainer, before: list[np.ndarray], x: np.ndarray) -> None:
    """The full-size model computes what the crop-size model learnt, and that is not the initial network."""
    full = trainer.eval_model
    np.testing.assert_allclose(full(x, training=False), with_input_size(trainer.model, x.shape[1:3])(x, training=False),
                               atol=1e-5)
    assert any(not np.array_equal(a, b) for a, b in zip(full.get_weights(), before)), "full-size model never updated"


def test_trainer_copies_crop_weights_to_the_full_size_model():
    """The trainer's own copy (not the test's): one step on 16x24 crops, then the 32x48 model must use the
    trained weights. Mutation: a full-size model left with its initial weights (no copy) fails the check."""
    from edgeseg._keras import keras
    from edgeseg.core.dataset import FolderDataset
    from edgeseg.core.presets import CAMVID
    from edgeseg.data.augment import Augment
    from edgeseg.data.pipeline import FrameCache, PipelineConfig
    from edgeseg.train.loop import Trainer, TrainConfig
    from edgeseg.train.optim import OptimConfig

    samples = Path(__file__).resolve().parents[2] / "samples" / "camvid"
    keras.utils.set_random_seed(0)
    frames = FrameCache(FolderDataset(samples / "images", samples / "masks", CAMVID).subset(4))
    pipe = PipelineConfig(input_size=(32, 48), crop=(16, 24), output_stride=4, augment=Augment.none())
    cfg = TrainConfig(epochs=1, batch_size=4, steps_per_epoch=1, optim=OptimConfig(lr=1e-2, schedule="constant"))
    trainer = Trainer(lambda: models.build("unet", 11, (32, 48), depth=2, base_width=4), CAMVID, pipe, cfg, frames)
    assert trainer.model is not trainer.eval_model and trainer.model.input_shape == (None, 16, 24, 3)
    before = [w.copy() for w in trainer.eval_model.get_weights()]
    assert trainer.fit().epochs_done == 1
    x = np.random.default_rng(0).normal(size=(1, 32, 48, 3)).astype(np.float32)
    _check_weights_flowed_back(trainer, before, x)
    trainer.eval_model.set_weights(before)  # mutation: what a trainer that never copies back leaves
    with pytest.raises(AssertionError):
        _check_weights_flowed_back(trainer, before, x)
