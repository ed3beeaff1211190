"""PSPNet (Zhao et al. 2017): dilated ResNet-18 backbone (stride 8) and an exact pyramid pooling module."""

from __future__ import annotations

import math
from typing import Any, Mapping

from edgeseg.errors import SpecError
from edgeseg.models.blocks import L, basic_block, check_range, conv_bn_act, resnet_stem
from edgeseg.models.registry import register

BACKBONE_STRIDE = 8


def input_multiple(options: Mapping[str, Any]) -> int:
    """Backbone stride x lcm(bins): every pyramid cell then covers a whole number of feature pixels."""
    return BACKBONE_STRIDE * math.lcm(*options["bins"])


def dilated_resnet(x: Any, base_width: int, blocks: tuple[int, ...]) -> Any:
    """ResNet basic-block backbone; stages 3 and 4 keep stride 8 with dilation 2 and 4."""
    x = resnet_stem(x, base_width)
    plan = ((1, 1), (2, 1), (1, 2), (1, 4))  # (stride, dilation) per stage
    for stage, ((stride, dilation), count) in enumerate(zip(plan, blocks), start=1):
        filters = base_width * 2 ** (stage - 1)
        for b in range(count):
            x = basic_block(x, filters, f"layer{stage}_{b + 1}", strides=stride if b == 0 else 1,
                            dilation=dilation)
    return x


def pyramid_pooling(x: Any, bins: tuple[int, ...], filters: int) -> Any:
    """Average-pool to b x b cells (pool size = stride = map size / b), 1x1 conv, bilinear resize back."""
    h, w = int(x.shape[1]), int(x.shape[2])
    branches = [x]
    for b in bins:
        cell = (h // b, w // b)
        y = L.AveragePooling2D(pool_size=cell, strides=cell, name=f"ppm{b}_pool")(x)
        y = conv_bn_act(y, filters, 1, f"ppm{b}")
        if cell != (1, 1):  # a 1x1 cell is already at feature resolution
            y = L.UpSampling2D(size=cell, interpolation="bilinear", name=f"ppm{b}_resize")(y)
        branches.append(y)
    return L.Concatenate(name="ppm_concat")(branches)


@register(
    name="pspnet",
    description="PSPNet: dilated ResNet-18 (stride 8) + pyramid pooling at bins 1,2,3,6, upsample, concat",
    paper="Zhao, Shi, Qi, Wang, Jia. Pyramid Scene Parsing Network. CVPR 2017 (arXiv:1612.01105)",
    deviations="ResNet-18 basic blocks from scratch instead of a pretrained dilated ResNet-50/101 with a "
               "deep stem, no auxiliary loss; pyramid pooling uses exact static AveragePooling2D (pool = "
               "stride = map/bin), so input sides must be multiples of 8 x lcm(bins) = 48; bilinear "
               "resizes use half-pixel centres instead of align_corners.",
    options={"base_width": 64, "blocks": (2, 2, 2, 2), "bins": (1, 2, 3, 6), "dropout": 0.1},
    stride=input_multiple,
)
def build_pspnet(inputs: Any, num_classes: int, *, base_width: int, blocks: tuple[int, ...],
                 bins: tuple[int, ...], dropout: float) -> Any:
    """PSPNet logits; ``base_width`` is the stem width (stage widths x1, x2, x4, x8)."""
    if len(blocks) != 4:
        raise SpecError(f"pspnet: option blocks needs 4 stage counts, got {list(blocks)}")
    check_range("pspnet", "dropout", dropout, 0.0, 0.9)
    x = dilated_resnet(inputs, base_width, tuple(blocks))
    channels = int(x.shape[-1])
    x = pyramid_pooling(x, tuple(bins), max(4, channels // len(bins)))
    x = conv_bn_act(x, channels, 3, "head")
    if dropout > 0:
        x = L.Dropout(dropout, name="head_dropout")(x)
    x = L.Conv2D(num_classes, 1, name="classifier")(x)
    return L.UpSampling2D(BACKBONE_STRIDE, interpolation="bilinear", name="logits_resize")(x)
