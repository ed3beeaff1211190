"""DeepLabv3+ (MobileNetV2) builder tests (shared checks in modelzoo_base)."""

from typing import Any

from tests.models.modelzoo_base import ModelZooTester


class TestDeepLabV3Plus(ModelZooTester):
    name = "deeplabv3plus"
    tiny = {"width": 0.35, "aspp_filters": 16, "decoder_filters": 16, "low_level_filters": 8, "dropout": 0.0}
    size = (64, 96)

    def test_native_dilation_and_static_image_pooling(self, model: Any) -> None:
        layers = {layer.name: layer for layer in model.layers}
        assert [layers[f"aspp{i}_dw"].dilation_rate for i in (1, 2, 3)] == [(6, 6), (12, 12), (18, 18)]
        assert layers["aspp_pool"].pool_size == (4, 6)  # the whole stride-16 map of a 64x96 input
        assert layers["block16_dw"].dilation_rate == (2, 2) and layers["block16_dw"].strides == (1, 1)
        assert layers["decoder_low_conv"].output_shape[1:3] == (16, 24)  # stride-4 low-level features
