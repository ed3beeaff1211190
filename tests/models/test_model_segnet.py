"""SegNet builder tests (shared checks in modelzoo_base)."""

from typing import Any

from tests.models.modelzoo_base import ModelZooTester


class TestSegNet(ModelZooTester):
    name = "segnet"
    tiny = {"base_width": 8}
    size = (64, 96)
    paper_params = 29_500_000  # Badrinarayanan 2017, Table 6: 29.5 M
    paper_tolerance = 0.01

    def test_decoder_mirrors_encoder_without_indices(self, model: Any) -> None:
        kinds = [type(layer).__name__ for layer in model.layers]
        assert kinds.count("MaxPooling2D") == kinds.count("UpSampling2D") == 5
        assert kinds.count("Conv2D") == 13 + 13  # 13 encoder convs, 12 decoder convs + classifier
