"""LinkNet builder tests (shared checks in modelzoo_base)."""

from typing import Any

from tests.models.modelzoo_base import ModelZooTester


class TestLinkNet(ModelZooTester):
    name = "linknet"
    tiny = {"base_width": 8, "blocks": (1, 1, 1, 1)}
    size = (64, 96)
    paper_params = 11_500_000  # Chaurasia 2017, Table 1: 11.5 M

    def test_encoder_features_are_added_not_concatenated(self, model: Any) -> None:
        names = {layer.name for layer in model.layers}
        assert {"dec4_add", "dec3_add", "dec2_add"} <= names
        assert not any(type(layer).__name__ == "Concatenate" for layer in model.layers)
