"""Shared tester for the model zoo: each architecture's test module subclasses ModelZooTester."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from edgeseg.core.dataset import resolve_dataset
from edgeseg.core.preprocess import preprocess, resize_nearest
from edgeseg.core.presets import CAMVID
from edgeseg.errors import SpecError

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "camvid"


@lru_cache(maxsize=None)
def camvid_batch(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two real CamVid sample frames at ``size``: normalised images, labels, non-void weights."""
    ds = resolve_dataset(SAMPLES, CAMVID)
    images, labels = [], []
    for i in (0, 5):
        image, mask = ds.read(i)
        images.append(preprocess(image, CAMVID, size))
        labels.append(resize_nearest(mask, size))
    y = np.stack(labels).astype(np.int32)
    weights = (y != CAMVID.void_index).astype(np.float32)
    return np.stack(images), np.where(y == CAMVID.void_index, 0, y), weights


class ModelZooTester:
    """Tests every architecture must pass. Subclasses set the class attributes below."""

    name: ClassVar[str]
    tiny: ClassVar[dict[str, Any]] = {}  # options for a fast model (small widths)
    size: ClassVar[tuple[int, int]] = (64, 64)  # a multiple of the tiny model's input multiple
    num_classes: ClassVar[int] = CAMVID.num_classes
    paper_params: ClassVar[int | None] = None  # parameter count reported by the paper
    paper_options: ClassVar[dict[str, Any]] = {}
    paper_tolerance: ClassVar[float] = 0.05
    train_steps: ClassVar[int] = 4
    learning_rate: ClassVar[float] = 1e-2

    @classmethod
    def build(cls, **extra: Any) -> Any:
        from edgeseg.models import build

        return build(cls.name, cls.num_classes, cls.size, **{**cls.tiny, **extra})

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls) -> Any:
        """The tiny model, built once per class (tests that change weights build their own)."""
        return cls.build()

    def test_forward_shape_and_name(self, model: Any) -> None:
        x = np.random.default_rng(0).normal(size=(2, *self.size, 3)).astype(np.float32)
        y = model(x, training=False).numpy()
        assert y.shape == (2, *self.size, self.num_classes)
        assert np.isfinite(y).all()
        assert model.name == self.name

    def test_only_builtin_layers(self, model: Any) -> None:
        from edgeseg._keras import keras

        kinds = {type(layer) for layer in model.layers}
        assert not [k for k in kinds if k.__name__ == "Lambda"]
        builtin = {getattr(keras.layers, k.__name__, None) for k in kinds} | {keras.layers.InputLayer}
        assert kinds <= builtin, kinds - builtin

    def test_no_activation_right_after_concatenate(self, model: Any) -> None:
        # an int8 RELU/PRELU fed by CONCATENATION stays standalone and XNNPACK leaves it to the CPU kernels
        for layer in model.layers:
            if type(layer).__name__ in ("ReLU", "PReLU"):
                (node,) = layer.inbound_nodes
                assert type(node.inbound_layers).__name__ != "Concatenate", layer.name

    def test_output_stride_enforced(self) -> None:
        from edgeseg.models import build, input_multiple

        mult = input_multiple(self.name, **self.tiny)
        assert self.size[0] % mult == 0 and self.size[1] % mult == 0
        with pytest.raises(SpecError, match=rf"not a multiple of {mult}") as err:
            build(self.name, self.num_classes, (self.size[0] + mult // 2 or 1, self.size[1]), **self.tiny)
        assert "\n" not in str(err.value)

    def test_unknown_option_rejected(self) -> None:
        with pytest.raises(SpecError, match="unknown option 'no_such_option'"):
            self.build(no_such_option=1)

    def test_paper_parameter_count(self) -> None:
        if self.paper_params is None:
            pytest.skip("the paper reports no parameter count to compare with")
        from edgeseg.models import build, input_multiple

        mult = input_multiple(self.name, **self.paper_options)
        model = build(self.name, self.num_classes, (mult, mult), **self.paper_options)
        got = model.count_params()
        assert abs(got - self.paper_params) <= self.paper_tolerance * self.paper_params, got

    def test_training_steps_reduce_loss(self) -> None:
        from edgeseg._keras import keras, tf

        keras.utils.set_random_seed(1)
        model = self.build()
        x, y, w = camvid_batch(self.size)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        opt = keras.optimizers.Adam(self.learning_rate)
        losses = []
        for _ in range(self.train_steps):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True), sample_weight=w)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            losses.append(float(loss))
        assert np.isfinite(losses).all()
        assert losses[-1] < losses[0] * 0.97, losses

    def test_h5_roundtrip(self, model: Any, tmp_path: Path) -> None:
        from edgeseg._keras import keras

        path = tmp_path / f"{self.name}.h5"
        model.save(path)
        loaded = keras.models.load_model(path, compile=False)
        x = np.random.default_rng(1).normal(size=(1, *self.size, 3)).astype(np.float32)
        np.testing.assert_allclose(loaded(x, training=False).numpy(), model(x, training=False).numpy(),
                                   rtol=1e-5, atol=1e-5)
        assert loaded.name == self.name
