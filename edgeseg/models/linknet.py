"""LinkNet (Chaurasia & Culurciello 2017): ResNet-18 encoder, light decoders, encoder features added."""

from __future__ import annotations

from typing import Any

from edgeseg.errors import SpecError
from edgeseg.models.blocks import L, basic_block, conv_bn_act, resnet_stem
from edgeseg.models.registry import register


def _decoder(x: Any, out: int, name: str, *, strides: int) -> Any:
    """1x1 conv m -> m/4, 3x3 full conv (x2 upsampling) m/4 -> m/4, 1x1 conv m/4 -> n; BN + ReLU each."""
    mid = max(1, int(x.shape[-1]) // 4)
    x = conv_bn_act(x, mid, 1, f"{name}_reduce")
    x = L.Conv2DTranspose(mid, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_fullconv")(x)
    x = L.ReLU(name=f"{name}_fullconv_relu")(L.BatchNormalization(name=f"{name}_fullconv_bn")(x))
    return conv_bn_act(x, out, 1, f"{name}_expand")


def final_block(x: Any, num_classes: int, kind: str, mid: int) -> Any:
    """LinkNet's final block: 3x3 full conv /2, 3x3 conv, then the x2 classifier.

    ``transpose`` is the paper's 2x2 full conv, followed by a 1x1 conv so the graph does not end in a
    transposed convolution; ``bilinear`` is a bilinear x2 resize + 3x3 conv.
    """
    x = L.Conv2DTranspose(mid, 3, strides=2, padding="same", use_bias=False, name="final_fullconv")(x)
    x = L.ReLU(name="final_fullconv_relu")(L.BatchNormalization(name="final_fullconv_bn")(x))
    x = conv_bn_act(x, mid, 3, "final_conv")
    if kind == "transpose":
        x = L.Conv2DTranspose(num_classes, 2, strides=2, padding="same", name="final_fullconv2")(x)
        return L.Conv2D(num_classes, 1, name="classifier")(x)
    x = L.UpSampling2D(2, interpolation="bilinear", name="final_resize")(x)
    return L.Conv2D(num_classes, 3, padding="same", name="classifier")(x)


@register(
    name="linknet",
    description="LinkNet: ResNet-18 encoder, 1x1/3x3-full-conv/1x1 decoders, encoder outputs added",
    paper="Chaurasia, Culurciello. LinkNet: Exploiting Encoder Representations for Efficient Semantic "
          "Segmentation. VCIP 2017 (arXiv:1707.03718)",
    deviations="encoder trained from scratch (no ImageNet weights are shipped); the final 2x2 full conv is "
               "followed by a 1x1 conv (head 'transpose') so the graph does not end in TRANSPOSE_CONV, or "
               "replaced by a bilinear x2 resize + 3x3 conv (head 'bilinear'); 'same' padding throughout, "
               "so input sides must be multiples of 32.",
    options={"base_width": 64, "blocks": (2, 2, 2, 2), "head": "transpose"},
    choices={"head": ("transpose", "bilinear")},
    stride=32,
)
def build_linknet(inputs: Any, num_classes: int, *, base_width: int, blocks: tuple[int, ...], head: str) -> Any:
    """LinkNet logits; ``base_width`` is the ResNet stem width (64), ``blocks`` the basic blocks per
    stage ((2, 2, 2, 2) = ResNet-18, (3, 4, 6, 3) = ResNet-34)."""
    if len(blocks) != 4:
        raise SpecError(f"linknet: option blocks needs 4 stage counts, got {list(blocks)}")
    widths = [base_width * 2 ** i for i in range(4)]
    x = resnet_stem(inputs, base_width)
    encoders = []
    for stage, (filters, count) in enumerate(zip(widths, blocks), start=1):
        for b in range(count):
            x = basic_block(x, filters, f"enc{stage}_{b + 1}", strides=2 if (b == 0 and stage > 1) else 1)
        encoders.append(x)
    for stage in (4, 3, 2):
        x = _decoder(x, widths[stage - 2], f"dec{stage}", strides=2)
        x = L.Add(name=f"dec{stage}_add")([x, encoders[stage - 2]])
    x = _decoder(x, widths[0], "dec1", strides=1)
    return final_block(x, num_classes, head, max(4, base_width // 2))
