"""U-Net builder tests (shared checks in modelzoo_base)."""

from tests.models.modelzoo_base import ModelZooTester


class TestUNet(ModelZooTester):
    name = "unet"
    tiny = {"depth": 3, "base_width": 8}
    size = (64, 96)
    paper_params = 31_031_810  # Ronneberger 2015 with "same" padding: ~31.0 M
    paper_options = {"batch_norm": False}
    paper_tolerance = 0.01

    def test_bilinear_upsampling_variant(self) -> None:
        model = self.build(upsampling="bilinear")
        kinds = {type(layer).__name__ for layer in model.layers}
        assert "UpSampling2D" in kinds and "Conv2DTranspose" not in kinds
