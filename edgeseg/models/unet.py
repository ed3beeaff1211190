"""U-Net (Ronneberger et al. 2015): contracting/expanding paths joined by concatenated skips."""

from __future__ import annotations

from typing import Any

from edgeseg.models.blocks import L, check_range, conv_bn_act
from edgeseg.models.registry import register


def _double_conv(x: Any, filters: int, name: str, batch_norm: bool) -> Any:
    x = conv_bn_act(x, filters, 3, f"{name}_1", batch_norm=batch_norm)
    return conv_bn_act(x, filters, 3, f"{name}_2", batch_norm=batch_norm)


def _up(x: Any, filters: int, name: str, mode: str) -> Any:
    if mode == "transpose":  # the paper's 2x2 "up-convolution" halving the channels
        return L.Conv2DTranspose(filters, 2, strides=2, padding="same", name=f"{name}_upconv")(x)
    x = L.UpSampling2D(2, interpolation="bilinear", name=f"{name}_resize")(x)
    return L.Conv2D(filters, 2, padding="same", name=f"{name}_upconv")(x)


@register(
    name="unet",
    description="U-Net: 3x3 conv pairs, 2x2 max-pool, 2x2 up-conv, concatenated skips",
    paper="Ronneberger, Fischer, Brox. U-Net: Convolutional Networks for Biomedical Image Segmentation. "
          "MICCAI 2015 (arXiv:1505.04597)",
    deviations="'same' padding instead of 'valid' + cropping (output at input resolution); "
               "BatchNormalization after each 3x3 conv by default (batch_norm=False gives the paper's "
               "conv+bias+ReLU); optional bilinear x2 + 2x2 conv instead of the transposed up-conv; "
               "dropout at the end of the contracting path off by default (option dropout).",
    options={"depth": 4, "base_width": 64, "batch_norm": True, "upsampling": "transpose", "dropout": 0.0},
    choices={"upsampling": ("transpose", "bilinear")},
    stride=lambda o: 2 ** o["depth"],
)
def build_unet(inputs: Any, num_classes: int, *, depth: int, base_width: int, batch_norm: bool,
               upsampling: str, dropout: float) -> Any:
    """U-Net logits; ``depth`` poolings (input multiple ``2**depth``), ``base_width`` first-level filters."""
    check_range("unet", "depth", depth, 1, 6)
    check_range("unet", "dropout", dropout, 0.0, 0.9)
    x = inputs
    skips = []
    for level in range(depth):
        x = _double_conv(x, base_width * 2 ** level, f"down{level + 1}", batch_norm)
        skips.append(x)
        x = L.MaxPooling2D(2, name=f"down{level + 1}_pool")(x)
    x = _double_conv(x, base_width * 2 ** depth, "bottom", batch_norm)
    if dropout > 0:
        x = L.Dropout(dropout, name="bottom_dropout")(x)
    for level in reversed(range(depth)):
        filters = base_width * 2 ** level
        x = _up(x, filters, f"up{level + 1}", upsampling)
        x = L.Concatenate(name=f"up{level + 1}_concat")([skips[level], x])
        x = _double_conv(x, filters, f"up{level + 1}", batch_norm)
    return L.Conv2D(num_classes, 1, name="classifier")(x)
