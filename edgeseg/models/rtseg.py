"""RTSeg: a real-time segmenter shaped for XNNPACK's int8 kernels (dense 3x3 convs, adds, bilinear resizes)."""

from __future__ import annotations

from typing import Any

from edgeseg.errors import SpecError
from edgeseg.models.blocks import L, activation, bn, check_range, conv_bn_act
from edgeseg.models.registry import register

# Channels of the 1/2, 1/4, 1/8, 1/16 and 1/32 feature maps at width 1.0.
_CHANNELS = (32, 32, 64, 128, 256)


def _channels(width: float) -> tuple[int, ...]:
    """The stage widths scaled by ``width``, rounded to multiples of 16 (at least 16)."""
    return tuple(max(16, int(round(c * width / 16.0)) * 16) for c in _CHANNELS)


def _block(x: Any, filters: int, name: str, act: str, *, strides: int = 1) -> Any:
    """Basic residual block: two dense 3x3 conv+BN, identity (or strided 1x1 projection) added, act.

    The add's activation fuses into the ADD op; both convs carry their activation fused.
    """
    shortcut = x
    if strides != 1 or int(x.shape[-1]) != filters:
        shortcut = conv_bn_act(x, filters, 1, f"{name}_proj", strides=strides, act=None)
    y = conv_bn_act(x, filters, 3, f"{name}_a", strides=strides, act=act)
    y = conv_bn_act(y, filters, 3, f"{name}_b", act=None)
    return activation(L.Add(name=f"{name}_add")([shortcut, y]), act, f"{name}_out")


def _inverted(x: Any, filters: int, name: str, act: str, *, strides: int = 1, expansion: int = 4) -> Any:
    """MobileNetV2 inverted residual: 1x1 expand + act, depthwise 3x3 (strided) + act, linear 1x1
    project, identity added when the shape is kept."""
    y = conv_bn_act(x, int(x.shape[-1]) * expansion, 1, f"{name}_expand", act=act)
    y = L.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False, name=f"{name}_dw")(y)
    y = activation(bn(y, f"{name}_dw"), act, f"{name}_dw")
    y = conv_bn_act(y, filters, 1, f"{name}_project", act=None)
    if strides == 1 and int(x.shape[-1]) == filters:
        y = L.Add(name=f"{name}_add")([x, y])
    return y


def _fuse(deep: Any, skip: Any, name: str, act: str) -> Any:
    """Decoder step: 1x1 conv+BN of the deeper map to the skip's width (at the low resolution,
    where it is cheap), bilinear x2 resize, add to the skip, act, then a 3x3 conv+BN+act."""
    filters = int(skip.shape[-1])
    y = conv_bn_act(deep, filters, 1, f"{name}_lateral", act=None)
    y = L.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up")(y)
    y = activation(L.Add(name=f"{name}_add")([skip, y]), act, f"{name}_add")
    return conv_bn_act(y, filters, 3, f"{name}_refine", act=act)


@register(
    name="rtseg",
    description="RTSeg: int8-first encoder-decoder, dense 3x3 residual stages to 1/32, add-fusion "
                "decoder to 1/4, bilinear x4 head",
    paper="edgeseg (no paper); shaped after the real-time segmenters BiSeNetV2 (Yu 2021), STDC (Fan 2021), "
          "Fast-SCNN (Poudel 2019), DDRNet-slim (Hong 2021) and LR-ASPP (Howard 2019): a strided dense-conv "
          "stem, residual stages at 1/8-1/32, lateral 1x1 + bilinear upsampling + add fusion (SwiftNet/LinkNet "
          "style), classifier at 1/4",
    deviations="not a published network: dense 3x3 convs instead of depthwise-separable ones (XNNPACK's int8 "
               "dense convs run ~4x its fp32 rate, depthwise ones are memory-bound), adds instead of "
               "concatenations, no global pooling branch (int8 AVERAGE_POOL_2D over a whole map is not "
               "delegated), ReLU fused into every conv and add; every upsampling is an exact bilinear x2 "
               "(x4 at the head), hence input sides that are multiples of 32 (CamVid: 352x480 or 384x480; "
               "fixed-size resizes to the skips would not survive the rebuild at the training crop size); "
               "no auxiliary booster heads (the training loop "
               "takes one output); block 'inverted' swaps the residual stages for MobileNetV2 inverted "
               "residuals (1x1 expand, depthwise 3x3, linear 1x1 project).",
    options={"width": 1.0, "blocks": (2, 2, 2), "activation": "relu", "block": "basic", "expansion": 4},
    choices={"activation": ("relu", "relu6"), "block": ("basic", "inverted")},
    stride=32,
)
def build_rtseg(inputs: Any, num_classes: int, *, width: float, blocks: tuple[int, ...], activation: str,
                block: str, expansion: int) -> Any:
    """RTSeg logits.

    Args:
        inputs: The ``(H, W, 3)`` input tensor, ``H`` and ``W`` multiples of 32.
        num_classes: Output channels.
        width: Multiplier of the 32/32/64/128/256 stage widths (rounded to multiples of 16).
        blocks: Residual blocks at 1/8, 1/16 and 1/32 (the first of each stride 2).
        activation: ``relu`` or ``relu6`` (both fuse into the convs and adds).
        block: ``basic`` (two dense 3x3 convs, the int8-throughput choice) or ``inverted`` (MobileNetV2
            inverted residuals: fewer GOPs, more of them in 1x1 and depthwise convs, which TensorFlow
            runs comparatively slowly; see benchmarks/int8_efficiency.py).
        expansion: Width multiplier of the inverted residuals' hidden layer.
    """
    check_range("rtseg", "width", width, 0.25, 4.0)
    if len(blocks) != 3:
        raise SpecError(f"rtseg: option blocks must give 3 counts (1/8, 1/16, 1/32), got {list(blocks)}")
    act = activation
    c1, c2, c3, c4, c5 = _channels(width)
    x = conv_bn_act(inputs, c1, 3, "stem1", strides=2, act=act)        # 1/2
    s4 = conv_bn_act(x, c2, 3, "stem2", strides=2, act=act)            # 1/4
    feats = []
    x = s4
    for stage, (filters, n) in enumerate(zip((c3, c4, c5), blocks), start=3):  # 1/8, 1/16, 1/32
        for i in range(n):
            if block == "basic":
                x = _block(x, filters, f"s{stage}_{i}", act, strides=2 if i == 0 else 1)
            else:
                x = _inverted(x, filters, f"s{stage}_{i}", act, strides=2 if i == 0 else 1, expansion=expansion)
        feats.append(x)
    s8, s16, s32 = feats
    y = _fuse(s32, s16, "dec16", act)
    y = _fuse(y, s8, "dec8", act)
    y = _fuse(y, s4, "dec4", act)
    y = L.Conv2D(num_classes, 1, name="classifier")(y)
    return L.UpSampling2D(4, interpolation="bilinear", name="head_up")(y)
