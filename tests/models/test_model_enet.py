"""ENet builder tests (shared checks in modelzoo_base)."""

from typing import Any

from tests.models.modelzoo_base import ModelZooTester


class TestENet(ModelZooTester):
    name = "enet"
    tiny = {"width": 0.25, "dropout": 0.0}
    size = (64, 96)
    paper_params = 370_000  # Paszke 2016, Table 3: 0.37 M

    def test_default_head_ends_in_a_regular_conv(self, model: Any) -> None:
        kinds = [type(layer).__name__ for layer in model.layers]
        assert kinds[-2:] == ["Conv2DTranspose", "Conv2D"] and "PReLU" in kinds

    def test_relu_and_bilinear_head_variant(self) -> None:
        kinds = [type(layer).__name__ for layer in self.build(activation="relu", head="bilinear").layers]
        assert "PReLU" not in kinds and "ReLU" in kinds
        assert kinds[-2:] == ["UpSampling2D", "Conv2D"]
