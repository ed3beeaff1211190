"""FCN-8s (Long, Shelhamer, Darrell 2015) on a small VGG-style backbone: scores at strides 32/16/8, summed."""

from __future__ import annotations

from typing import Any

from edgeseg.models.blocks import L, bilinear_kernel, check_range, conv_bn_act
from edgeseg.models.registry import register

_VGG_CONVS = (2, 2, 3, 3, 3)  # 3x3 convs per stage, as VGG16
_VGG_WIDTHS = (1, 2, 4, 8, 8)  # stage widths in units of base_width


def _bilinear_upconv(x: Any, channels: int, name: str) -> Any:
    """Learned 2x up-conv (4x4, stride 2, no bias) initialised to bilinear interpolation."""
    layer = L.Conv2DTranspose(channels, 4, strides=2, padding="same", use_bias=False, name=name)
    y = layer(x)
    layer.set_weights([bilinear_kernel(4, channels)])
    return y


@register(
    name="fcn8s",
    description="FCN-8s: VGG-style backbone, fc6/fc7 as convs, score layers at strides 32/16/8 fused by "
                "learned 2x up-convs (bilinear init) and summed",
    paper="Long, Shelhamer, Darrell. Fully Convolutional Networks for Semantic Segmentation. CVPR 2015 "
          "(arXiv:1411.4038)",
    deviations="VGG16 layout at reduced width (base_width 32 instead of 64) with BatchNormalization, trained "
               "from scratch; fc6 is a 3x3 conv with 512 filters (paper: 7x7, 4096) and fc7 1x1 with 512; "
               "'same' padding instead of the 100-pixel input padding + crops, so input sides must be "
               "multiples of 32; the final fixed bilinear 16x16/8 deconvolution is a bilinear x8 "
               "UpSampling2D (same function, no weights); no 0.01/0.0001 skip scaling.",
    options={"base_width": 32, "fc_filters": 512, "fc_kernel": 3, "batch_norm": True, "dropout": 0.5},
    stride=32,
)
def build_fcn8s(inputs: Any, num_classes: int, *, base_width: int, fc_filters: int, fc_kernel: int,
                batch_norm: bool, dropout: float) -> Any:
    """FCN-8s logits; ``base_width`` 64, ``fc_filters`` 4096, ``fc_kernel`` 7, ``batch_norm`` False is
    the paper's VGG16 configuration."""
    check_range("fcn8s", "dropout", dropout, 0.0, 0.9)
    x = inputs
    pools = []
    for stage, (convs, mult) in enumerate(zip(_VGG_CONVS, _VGG_WIDTHS), start=1):
        for i in range(convs):
            x = conv_bn_act(x, base_width * mult, 3, f"conv{stage}_{i + 1}", batch_norm=batch_norm)
        x = L.MaxPooling2D(2, name=f"pool{stage}")(x)
        pools.append(x)
    for name, kernel in (("fc6", fc_kernel), ("fc7", 1)):
        x = conv_bn_act(x, fc_filters, kernel, name, batch_norm=batch_norm)
        if dropout > 0:
            x = L.Dropout(dropout, name=f"{name}_dropout")(x)
    score = L.Conv2D(num_classes, 1, name="score_fr")(x)
    score = _bilinear_upconv(score, num_classes, "upscore2")
    score = L.Add(name="fuse_pool4")([score, L.Conv2D(num_classes, 1, name="score_pool4")(pools[3])])
    score = _bilinear_upconv(score, num_classes, "upscore_pool4")
    score = L.Add(name="fuse_pool3")([score, L.Conv2D(num_classes, 1, name="score_pool3")(pools[2])])
    return L.UpSampling2D(8, interpolation="bilinear", name="upscore8")(score)
