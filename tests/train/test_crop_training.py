"""Crop training: the network is rebuilt at the crop size and its weights flow back to the full-size model."""

from __future__ import annotations

import numpy as np

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
