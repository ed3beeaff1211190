"""RTSeg builder tests (shared checks in modelzoo_base)."""

from typing import Any

import numpy as np
from tests.models.modelzoo_base import ModelZooTester


class TestRTSeg(ModelZooTester):
    name = "rtseg"
    tiny = {"width": 0.5, "blocks": (1, 1, 1)}
    size = (64, 96)

    def test_int8_friendly_layers_only(self) -> None:
        kinds: dict[str, list[Any]] = {}
        for layer in self.build(width=1.0).layers:
            kinds.setdefault(type(layer).__name__, []).append(layer)
        assert not {"Concatenate", "PReLU", "DepthwiseConv2D", "Conv2DTranspose", "Resizing"} & set(kinds)
        convs = [c for c in kinds["Conv2D"] if c.name != "classifier"]
        assert all(c.kernel_size in ((1, 1), (3, 3)) and c.filters % 16 == 0 for c in convs)
        assert {c.filters for c in convs} == {32, 64, 128, 256}
        assert {u.interpolation for u in kinds["UpSampling2D"]} == {"bilinear"}

    def test_rebuilt_at_a_crop_size_and_more_parameters_than_enet(self, model: Any) -> None:
        # edgeseg.train trains on crops: the network is rebuilt from its config at the crop size
        from edgeseg.models import build, input_multiple
        from edgeseg.models.reshape import with_input_size

        assert input_multiple("rtseg") == 32
        crop = with_input_size(model, (32, 64))
        assert crop(np.zeros((1, 32, 64, 3), np.float32)).shape == (1, 32, 64, self.num_classes)
        assert build("rtseg", 11, (64, 64)).count_params() > 2_000_000  # ENet: 0.38 M

    def test_inverted_variant_uses_depthwise_and_keeps_the_shape(self) -> None:
        model = self.build(block="inverted", expansion=2)
        kinds = [type(layer).__name__ for layer in model.layers]
        assert kinds.count("DepthwiseConv2D") == 3 and "Concatenate" not in kinds
        assert model(np.zeros((1, *self.size, 3), np.float32)).shape == (1, *self.size, self.num_classes)
