"""Building blocks shared by the architectures, made only of built-in tf_keras layers."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeseg._keras import keras
from edgeseg.errors import SpecError

L = keras.layers
BN_EPS = 1e-3  # the tf_keras default; kept explicit so every block agrees


def activation(x: Any, kind: str, name: str) -> Any:
    """``relu``, ``relu6`` or ``prelu`` (one slope per channel, shared over H and W)."""
    if kind == "relu":
        return L.ReLU(name=f"{name}_relu")(x)
    if kind == "relu6":
        return L.ReLU(6.0, name=f"{name}_relu6")(x)
    if kind == "prelu":
        return L.PReLU(shared_axes=[1, 2], name=f"{name}_prelu")(x)
    raise ValueError(f"unknown activation {kind!r}")


def bn(x: Any, name: str) -> Any:
    """Batch normalisation over channels."""
    return L.BatchNormalization(epsilon=BN_EPS, name=f"{name}_bn")(x)


def conv_bn_act(x: Any, filters: int, kernel: int | tuple[int, int], name: str, *, strides: int = 1,
                dilation: int = 1, act: str | None = "relu", batch_norm: bool = True) -> Any:
    """``Conv2D`` ('same' padding) + optional BN + optional activation. Bias only without BN."""
    x = L.Conv2D(filters, kernel, strides=strides, padding="same", dilation_rate=dilation,
                 use_bias=not batch_norm, name=f"{name}_conv")(x)
    if batch_norm:
        x = bn(x, name)
    return activation(x, act, name) if act else x


def sep_conv_bn_act(x: Any, filters: int, name: str, *, kernel: int = 3, strides: int = 1, dilation: int = 1,
                    act: str = "relu") -> Any:
    """Depthwise 3x3 (native dilation) + BN + act, then pointwise 1x1 + BN + act (DeepLabv3+ style)."""
    x = L.DepthwiseConv2D(kernel, strides=strides, padding="same", dilation_rate=dilation, use_bias=False,
                          name=f"{name}_dw")(x)
    x = activation(bn(x, f"{name}_dw"), act, f"{name}_dw")
    return conv_bn_act(x, filters, 1, f"{name}_pw", act=act)


def upsample(x: Any, factor: int | tuple[int, int], interpolation: str, name: str) -> Any:
    """``UpSampling2D`` by an integer factor ('bilinear' uses half-pixel centres, as TFLite's resize)."""
    return L.UpSampling2D(size=factor, interpolation=interpolation, name=name)(x)


def basic_block(x: Any, filters: int, name: str, *, strides: int = 1, dilation: int = 1) -> Any:
    """ResNet basic block: two 3x3 conv+BN, identity or 1x1-projection shortcut, add, ReLU."""
    shortcut = x
    if strides != 1 or int(x.shape[-1]) != filters:
        shortcut = conv_bn_act(x, filters, 1, f"{name}_proj", strides=strides, act=None)
    y = conv_bn_act(x, filters, 3, f"{name}_a", strides=strides, dilation=dilation)
    y = conv_bn_act(y, filters, 3, f"{name}_b", dilation=dilation, act=None)
    y = L.Add(name=f"{name}_add")([shortcut, y])
    return L.ReLU(name=f"{name}_out")(y)


def resnet_stem(x: Any, filters: int, name: str = "stem") -> Any:
    """ResNet input block: 7x7/2 conv + BN + ReLU, 3x3/2 max-pool (stride 4 overall)."""
    x = conv_bn_act(x, filters, 7, name, strides=2)
    return L.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool")(x)


def scaled(channels: int, width: float, minimum: int = 4) -> int:
    """``channels * width`` rounded to a multiple of 4 (at least ``minimum``)."""
    return max(minimum, int(round(channels * width / 4.0)) * 4)


def check_range(model: str, option: str, value: float, low: float, high: float) -> None:
    """Raise a one-line :class:`SpecError` unless ``low <= value <= high``."""
    if not low <= value <= high:
        raise SpecError(f"{model}: option {option} must be in [{low:g}, {high:g}], got {value!r}")


def bilinear_kernel(size: int, channels: int) -> np.ndarray:
    """A ``Conv2DTranspose`` kernel ``(size, size, channels, channels)`` that upsamples each channel
    bilinearly (the FCN initialisation): channel ``i`` maps only to channel ``i``."""
    factor = (size + 1) // 2
    centre = factor - 1 if size % 2 == 1 else factor - 0.5
    og = np.arange(size, dtype=np.float64)
    filt1d = 1.0 - np.abs(og - centre) / factor
    filt = np.outer(filt1d, filt1d).astype(np.float32)
    kernel = np.zeros((size, size, channels, channels), dtype=np.float32)
    for i in range(channels):
        kernel[:, :, i, i] = filt
    return kernel
