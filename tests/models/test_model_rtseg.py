"""RTSeg builder tests (shared checks in modelzoo_base)."""

from typing import Any

from modelzoo_base import ModelZooTester


class TestRTSeg(ModelZooTester):
    name = "rtseg"
    tiny = {"width": 0.5, "blocks": (1, 1, 1)}
    size = (40, 56)  # 1/8 = 5x7: the 1/16 and 1/32 maps round up (3x4, 2x2) and are resized back

    def test_int8_friendly_layers_only(self) -> None:
        kinds = {}
        for layer in self.build(width=1.0).layers:
            kinds.setdefault(type(layer).__name__, []).append(layer)
        assert not {"Concatenate", "PReLU", "DepthwiseConv2D", "Conv2DTranspose"} & set(kinds)
        convs = [c for c in kinds["Conv2D"] if c.name != "classifier"]
        assert all(c.kernel_size in ((1, 1), (3, 3)) and c.filters % 16 == 0 for c in convs)
        assert {c.filters for c in convs} == {32, 64, 128, 256}
        assert {"dec16_up", "dec8_up", "dec4_up"} <= {layer.name for layer in kinds["Resizing"] + kinds["UpSampling2D"]}

    def test_360x480_is_accepted_and_params_exceed_enet(self, model: Any) -> None:
        from edgeseg.models import build, input_multiple

        assert input_multiple("rtseg") == 8 and 360 % 8 == 0
        assert build("rtseg", 11, (48, 64)).count_params() > 2_000_000  # ENet: 0.38 M

    def test_inverted_variant_uses_depthwise_and_keeps_the_shape(self) -> None:
        import numpy as np

        model = self.build(block="inverted", expansion=2)
        kinds = [type(layer).__name__ for layer in model.layers]
        assert kinds.count("DepthwiseConv2D") == 3 and "Concatenate" not in kinds
        assert model(np.zeros((1, *self.size, 3), np.float32)).shape == (1, *self.size, self.num_classes)
