"""PSPNet builder tests (shared checks in modelzoo_base)."""

from typing import Any

from tests.models.modelzoo_base import ModelZooTester

from edgeseg.models import input_multiple


class TestPSPNet(ModelZooTester):
    name = "pspnet"
    tiny = {"base_width": 8, "blocks": (1, 1, 1, 1), "dropout": 0.0}
    size = (48, 96)  # multiples of 8 (backbone stride) x 6 (lcm of bins 1, 2, 3, 6)

    def test_pyramid_cells_are_exact(self, model: Any) -> None:
        pools = {layer.name: layer.pool_size for layer in model.layers if layer.name.endswith("_pool")}
        # the stride-8 feature map is 6x12: bins 1, 2, 3, 6 pool 6x12, 3x6, 2x4, 1x2 cells
        assert [pools[f"ppm{b}_pool"] for b in (1, 2, 3, 6)] == [(6, 12), (3, 6), (2, 4), (1, 2)]

    def test_input_multiple_follows_bins(self) -> None:
        assert input_multiple("pspnet") == 48
        assert input_multiple("pspnet", bins=(1, 2, 4, 8)) == 64
