"""FCN-8s builder tests (shared checks in modelzoo_base)."""

from typing import Any

import numpy as np
from tests.models.modelzoo_base import ModelZooTester

from edgeseg.models.blocks import bilinear_kernel


class TestFCN8s(ModelZooTester):
    name = "fcn8s"
    tiny = {"base_width": 8, "fc_filters": 32, "dropout": 0.0}
    size = (64, 96)
    paper_params = 134_000_000  # Long 2015: FCN-8s (VGG16) 134 M
    paper_options = {"base_width": 64, "fc_filters": 4096, "fc_kernel": 7, "batch_norm": False}
    paper_tolerance = 0.01

    def test_upconvs_start_bilinear(self, model: Any) -> None:
        for name in ("upscore2", "upscore_pool4"):
            (kernel,) = model.get_layer(name).get_weights()
            np.testing.assert_array_equal(kernel, bilinear_kernel(4, self.num_classes))
        k = bilinear_kernel(4, 1)[:, :, 0, 0]
        assert k[1, 1] == k[1, 2] == 0.5625 and k.sum() == 4.0  # 2x upsampling keeps the mean
