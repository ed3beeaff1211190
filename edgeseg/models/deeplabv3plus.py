"""DeepLabv3+ (Chen et al. 2018) on a MobileNetV2 backbone built from scratch, output stride 16."""

from __future__ import annotations

from typing import Any

from edgeseg.errors import SpecError
from edgeseg.models.blocks import L, bn, check_range, conv_bn_act, sep_conv_bn_act
from edgeseg.models.registry import register

# MobileNetV2 inverted-residual settings (expansion t, channels c, repeats n, stride s).
_MBV2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
         (6, 320, 1, 1))
OUTPUT_STRIDE = 16


def make_divisible(v: float, divisor: int = 8) -> int:
    """MobileNet channel rounding: nearest multiple of ``divisor``, never below 90 % of ``v``."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def _inverted_residual(x: Any, t: int, out: int, stride: int, dilation: int, name: str) -> Any:
    cin = int(x.shape[-1])
    y = x
    if t != 1:
        y = conv_bn_act(y, cin * t, 1, f"{name}_expand", act="relu6")
    y = L.DepthwiseConv2D(3, strides=stride, padding="same", dilation_rate=dilation, use_bias=False,
                          name=f"{name}_dw")(y)
    y = L.ReLU(6.0, name=f"{name}_dw_relu6")(bn(y, f"{name}_dw"))
    y = conv_bn_act(y, out, 1, f"{name}_project", act=None)
    if stride == 1 and cin == out:
        y = L.Add(name=f"{name}_add")([x, y])
    return y


def mobilenet_v2(x: Any, width: float) -> tuple[Any, Any]:
    """MobileNetV2 features at stride 16 (last stage dilated) and the stride-4 low-level features."""
    x = conv_bn_act(x, make_divisible(32 * width), 3, "stem", strides=2, act="relu6")
    stride, dilation, low_level, block = 2, 1, None, 0
    for t, c, n, s in _MBV2:
        out = make_divisible(c * width)
        for i in range(n):
            layer_stride, layer_dilation = (s if i == 0 else 1), dilation
            if layer_stride > 1 and stride * layer_stride > OUTPUT_STRIDE:  # atrous instead of striding
                dilation *= layer_stride
                layer_stride = 1
            elif layer_stride > 1:
                stride *= layer_stride
            x = _inverted_residual(x, t, out, layer_stride, layer_dilation if i == 0 else dilation,
                                   f"block{block}")
            block += 1
        if stride == 4:
            low_level = x  # the last stride-4 block (24 channels at width 1)
    return x, low_level


def aspp(x: Any, filters: int, rates: tuple[int, ...], dropout: float) -> Any:
    """1x1 branch, atrous separable branches, image pooling (static-shape pool + resize), 1x1 fuse."""
    h, w = int(x.shape[1]), int(x.shape[2])
    branches = [conv_bn_act(x, filters, 1, "aspp0")]
    for i, rate in enumerate(rates, start=1):
        branches.append(sep_conv_bn_act(x, filters, f"aspp{i}", dilation=rate))
    pooled = L.AveragePooling2D(pool_size=(h, w), name="aspp_pool")(x)
    pooled = conv_bn_act(pooled, filters, 1, "aspp_pool")
    branches.append(L.UpSampling2D(size=(h, w), interpolation="bilinear", name="aspp_pool_resize")(pooled))
    y = L.Concatenate(name="aspp_concat")(branches)
    y = conv_bn_act(y, filters, 1, "aspp_fuse")
    return L.Dropout(dropout, name="aspp_dropout")(y) if dropout > 0 else y


@register(
    name="deeplabv3plus",
    description="DeepLabv3+: MobileNetV2 (OS 16, dilated last stages), ASPP 6/12/18 + image pooling, "
                "decoder with stride-4 features",
    paper="Chen, Zhu, Papandreou, Schroff, Adam. Encoder-Decoder with Atrous Separable Convolution for "
          "Semantic Image Segmentation. ECCV 2018 (arXiv:1802.02611); backbone: Sandler et al., "
          "MobileNetV2, CVPR 2018",
    deviations="MobileNetV2 trained from scratch (no ImageNet weights shipped); image pooling uses an "
               "AveragePooling2D over the whole (static) feature map and a bilinear resize from 1x1 (a "
               "broadcast; bilinear as XNNPACK has no nearest-resize kernel), so input sides must be "
               "multiples of 16; dilated convs are native dilation_rate convs (no space-to-batch).",
    options={"width": 1.0, "aspp_filters": 256, "decoder_filters": 256, "low_level_filters": 48,
             "rates": (6, 12, 18), "dropout": 0.1},
    stride=OUTPUT_STRIDE,
)
def build_deeplabv3plus(inputs: Any, num_classes: int, *, width: float, aspp_filters: int,
                        decoder_filters: int, low_level_filters: int, rates: tuple[int, ...],
                        dropout: float) -> Any:
    """DeepLabv3+ logits; ``width`` is the MobileNetV2 width multiplier (alpha)."""
    check_range("deeplabv3plus", "width", width, 0.1, 2.0)
    check_range("deeplabv3plus", "dropout", dropout, 0.0, 0.9)
    if not rates:
        raise SpecError("deeplabv3plus: option rates needs at least one rate")
    features, low_level = mobilenet_v2(inputs, width)
    x = aspp(features, aspp_filters, tuple(rates), dropout)
    x = L.UpSampling2D(4, interpolation="bilinear", name="decoder_resize")(x)
    low = conv_bn_act(low_level, low_level_filters, 1, "decoder_low")
    x = L.Concatenate(name="decoder_concat")([x, low])
    x = sep_conv_bn_act(x, decoder_filters, "decoder_conv1")
    x = sep_conv_bn_act(x, decoder_filters, "decoder_conv2")
    x = L.Conv2D(num_classes, 1, name="classifier")(x)
    return L.UpSampling2D(4, interpolation="bilinear", name="logits_resize")(x)
