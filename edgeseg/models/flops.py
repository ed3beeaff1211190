"""Analytical FLOP counts (2 x multiply-accumulates of conv and dense layers) from layer shapes."""

from __future__ import annotations

import math
from typing import Any, Iterator


def _layers(model: Any) -> Iterator[Any]:
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.__class__.__name__ in ("Functional", "Model", "Sequential"):
            yield from _layers(layer)
        else:
            yield layer


def _spatial(shape: Any) -> int:
    """Product of the dims between batch and channels (1 for a 2-D tensor)."""
    dims = [int(d) for d in tuple(shape)[1:-1]]
    return math.prod(dims) if dims else 1


def _shape(layer: Any, attr: str) -> Any:
    shape = getattr(layer, attr)
    if isinstance(shape, list):  # a layer called once has one shape; take the first otherwise
        shape = shape[0]
    return shape


def layer_macs(layer: Any) -> int:
    """Multiply-accumulates of one layer for one input sample (0 for layers that do none)."""
    kind = layer.__class__.__name__
    if kind not in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose", "Dense", "Conv1D"):
        return 0
    in_shape, out_shape = _shape(layer, "input_shape"), _shape(layer, "output_shape")
    cin, cout = int(in_shape[-1]), int(out_shape[-1])
    if kind == "Dense":
        return _spatial(in_shape) * cin * cout
    k = math.prod(int(s) for s in layer.kernel_size)
    if kind == "Conv2DTranspose":  # every input pixel scatters a k x k x cout patch
        return _spatial(in_shape) * k * cin * cout
    out_px = _spatial(out_shape)
    if kind == "DepthwiseConv2D":
        return out_px * k * cout
    if kind == "SeparableConv2D":
        mid = cin * int(layer.depth_multiplier)
        return out_px * (k * mid + mid * cout)
    groups = int(getattr(layer, "groups", 1) or 1)
    return out_px * k * (cin // groups) * cout


def count_macs(model: Any) -> int:
    """Multiply-accumulates of every conv/dense layer of ``model`` for one input sample."""
    return sum(layer_macs(layer) for layer in _layers(model))


def count_flops(model: Any) -> int:
    """FLOPs for one input sample: ``2 x`` :func:`count_macs` (bias, BN, activations, pooling,
    resizing and additions are not counted; BN folds into the convs at export)."""
    return 2 * count_macs(model)


def gflops(model: Any) -> float:
    """:func:`count_flops` in units of 10^9."""
    return count_flops(model) / 1e9
