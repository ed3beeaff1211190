"""SegNet (Badrinarayanan et al. 2017), edge variant: VGG16 encoder, mirrored decoder, no pooling indices."""

from __future__ import annotations

from typing import Any

from edgeseg.models.blocks import L, conv_bn_act
from edgeseg.models.registry import register

# (encoder filters per conv) per stage in units of base_width/64 x 64; the decoder mirrors it.
_ENCODER = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
_DECODER = ((512, 512, 512), (512, 512, 256), (256, 256, 128), (128, 64), (64,))


@register(
    name="segnet",
    description="SegNet: VGG16 encoder (13 conv+BN+ReLU, 5 max-pools) and mirrored decoder, "
                "index-free 2x upsampling",
    paper="Badrinarayanan, Kendall, Cipolla. SegNet: A Deep Convolutional Encoder-Decoder Architecture for "
          "Image Segmentation. IEEE TPAMI 2017 (arXiv:1511.00561)",
    deviations="the decoder upsamples with a 2x bilinear (or nearest) UpSampling2D instead of max-unpooling "
               "with the encoder's pooling indices (no argmax / scatter ops, so it converts and delegates "
               "on every runtime; bilinear by default as XNNPACK has no RESIZE_NEAREST_NEIGHBOR kernel; "
               "boundaries are less sharp); 'same' padding and no ceil-mode pooling, so input sides must "
               "be multiples of 32 (e.g. 352x480 or 384x480 for CamVid); encoder trained from scratch; "
               "base_width scales all widths for edge use (64 = paper).",
    options={"base_width": 64, "upsampling": "bilinear"},
    choices={"upsampling": ("bilinear", "nearest")},
    stride=32,
)
def build_segnet(inputs: Any, num_classes: int, *, base_width: int, upsampling: str) -> Any:
    """SegNet logits; ``base_width`` 64 is the paper's VGG16 widths (29.5 M parameters)."""
    scale = base_width / 64.0

    def width(c: int) -> int:
        return max(1, int(round(c * scale)))

    x = inputs
    for stage, filters in enumerate(_ENCODER, start=1):
        for i, f in enumerate(filters, start=1):
            x = conv_bn_act(x, width(f), 3, f"enc{stage}_{i}")
        x = L.MaxPooling2D(2, name=f"enc{stage}_pool")(x)
    for stage, filters in zip(range(5, 0, -1), _DECODER):
        x = L.UpSampling2D(2, interpolation=upsampling, name=f"dec{stage}_upsample")(x)
        for i, f in enumerate(filters, start=1):
            x = conv_bn_act(x, width(f), 3, f"dec{stage}_{i}")
    return L.Conv2D(num_classes, 3, padding="same", name="classifier")(x)
