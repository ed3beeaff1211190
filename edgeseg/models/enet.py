"""ENet (Paszke et al. 2016): an initial block and five stages of residual bottlenecks, stride 8."""

from __future__ import annotations

from typing import Any

from edgeseg.models.blocks import L, activation, bn, check_range, scaled
from edgeseg.models.registry import register

# Stage 2/3 pattern of the paper: (kind, dilation); "asym" is 5x1 followed by 1x5.
_STAGE23 = (("regular", 1), ("dilated", 2), ("asym", 1), ("dilated", 4),
            ("regular", 1), ("dilated", 8), ("asym", 1), ("dilated", 16))


def _conv(x: Any, filters: int, kernel: Any, name: str, *, strides: int = 1, dilation: int = 1) -> Any:
    return L.Conv2D(filters, kernel, strides=strides, padding="same", dilation_rate=dilation, use_bias=False,
                    name=name)(x)


def _dropout(x: Any, rate: float, name: str) -> Any:
    return L.SpatialDropout2D(rate, name=name)(x) if rate > 0 else x


def _initial(x: Any, channels: int, act: str) -> Any:
    """3x3/2 conv with ``channels - 3`` filters, concatenated with a 2x2 max-pool of the image."""
    conv = L.Conv2D(channels - int(x.shape[-1]), 3, strides=2, padding="same", name="initial_conv")(x)
    pool = L.MaxPooling2D(2, name="initial_pool")(x)
    y = L.Concatenate(name="initial_concat")([conv, pool])
    return activation(bn(y, "initial"), act, "initial")


def _bottleneck(x: Any, out: int, name: str, *, kind: str = "regular", dilation: int = 1,
                dropout: float, act: str) -> Any:
    """Regular, dilated or asymmetric bottleneck: 1x1 reduce, conv, 1x1 expand, dropout, + identity."""
    internal = max(2, out // 4)
    y = activation(bn(_conv(x, internal, 1, f"{name}_reduce"), f"{name}_reduce"), act, f"{name}_reduce")
    if kind == "asym":
        y = _conv(y, internal, (5, 1), f"{name}_conv5x1")
        y = _conv(y, internal, (1, 5), f"{name}_conv1x5")
    else:
        y = _conv(y, internal, 3, f"{name}_conv", dilation=dilation)
    y = activation(bn(y, f"{name}_conv"), act, f"{name}_conv")
    y = bn(_conv(y, out, 1, f"{name}_expand"), f"{name}_expand")
    y = _dropout(y, dropout, f"{name}_dropout")
    return activation(L.Add(name=f"{name}_add")([x, y]), act, name)


def _downsample(x: Any, out: int, name: str, *, dropout: float, act: str) -> Any:
    """Downsampling bottleneck: 2x2/2 conv branch + max-pool branch zero-padded to ``out`` channels.

    Zero-padding the pooled branch and adding equals adding the pool to the first ``cin`` expanded
    channels and passing the others through: the 1x1 expansion is built as two convs (same
    weights count), so no padding op, slicing or custom layer is needed.
    """
    cin = int(x.shape[-1])
    internal = max(2, out // 4)
    y = _conv(x, internal, 2, f"{name}_reduce", strides=2)
    y = activation(bn(y, f"{name}_reduce"), act, f"{name}_reduce")
    y = activation(bn(_conv(y, internal, 3, f"{name}_conv"), f"{name}_conv"), act, f"{name}_conv")
    y_main = _dropout(bn(_conv(y, cin, 1, f"{name}_expand"), f"{name}_expand"), dropout, f"{name}_dropout")
    y_rest = bn(_conv(y, out - cin, 1, f"{name}_expand_pad"), f"{name}_expand_pad")
    y_rest = _dropout(y_rest, dropout, f"{name}_dropout_pad")
    pool = L.MaxPooling2D(2, name=f"{name}_pool")(x)
    # Activate before concatenating (equal for per-channel ReLU/PReLU): the ReLUs then fuse into the
    # ADD and the CONV; a standalone int8 RELU after CONCATENATION is not taken by XNNPACK.
    merged = activation(L.Add(name=f"{name}_add")([pool, y_main]), act, f"{name}_main")
    return L.Concatenate(name=f"{name}_concat")([merged, activation(y_rest, act, f"{name}_pad")])


def _upsample(x: Any, out: int, name: str, *, dropout: float, act: str, unpool: str) -> Any:
    """Upsampling bottleneck: main 1x1 conv + 2x resize (instead of max-unpooling), 3x3/2 transposed
    conv branch."""
    internal = max(2, int(x.shape[-1]) // 4)
    main = bn(_conv(x, out, 1, f"{name}_main"), f"{name}_main")
    main = L.UpSampling2D(2, interpolation=unpool, name=f"{name}_unpool")(main)
    y = activation(bn(_conv(x, internal, 1, f"{name}_reduce"), f"{name}_reduce"), act, f"{name}_reduce")
    y = L.Conv2DTranspose(internal, 3, strides=2, padding="same", use_bias=False, name=f"{name}_deconv")(y)
    y = activation(bn(y, f"{name}_deconv"), act, f"{name}_deconv")
    y = bn(_conv(y, out, 1, f"{name}_expand"), f"{name}_expand")
    y = _dropout(y, dropout, f"{name}_dropout")
    return activation(L.Add(name=f"{name}_add")([main, y]), act, name)


@register(
    name="enet",
    description="ENet: initial block + 5 bottleneck stages (regular, dilated, asymmetric), stride 8",
    paper="Paszke, Chaurasia, Kim, Culurciello. ENet: A Deep Neural Network Architecture for Real-Time "
          "Semantic Segmentation. arXiv:1606.02147, 2016",
    deviations="max-unpooling with argmax indices replaced by a 1x1 conv + 2x bilinear (or nearest) "
               "UpSampling2D on the main branch of the upsampling bottlenecks (no indices, so no custom "
               "op); the zero-padded max-pool branch of the downsampling bottlenecks is realised by "
               "splitting the 1x1 expansion in two convs (identical function and parameter count); "
               "head 'transpose' is the paper's 2x2/2 full conv followed by a 1x1 conv so the graph "
               "does not end in TRANSPOSE_CONV (LiteRT CompiledModel failed on that output), head "
               "'bilinear' is a bilinear x2 resize + 3x3 conv; activation 'relu' replaces PReLU "
               "where quantised PReLU is not accelerated.",
    options={"width": 1.0, "activation": "prelu", "dropout": 0.1, "unpool": "bilinear", "head": "transpose"},
    choices={"activation": ("prelu", "relu"), "unpool": ("bilinear", "nearest"),
             "head": ("transpose", "bilinear")},
    stride=8,
)
def build_enet(inputs: Any, num_classes: int, *, width: float, activation: str, dropout: float,
               unpool: str, head: str) -> Any:
    """ENet logits; ``width`` scales the 16/64/128 stage channels, ``dropout`` is the stage 2-5 rate
    (stage 1 uses a tenth of it, as in the paper)."""
    check_range("enet", "width", width, 0.125, 4.0)
    check_range("enet", "dropout", dropout, 0.0, 0.9)
    act = activation
    c0 = max(int(inputs.shape[-1]) + 1, scaled(16, width))
    c1, c2 = scaled(64, width), scaled(128, width)
    x = _initial(inputs, c0, act)
    x = _downsample(x, c1, "b1_0", dropout=dropout / 10, act=act)
    for i in range(1, 5):
        x = _bottleneck(x, c1, f"b1_{i}", dropout=dropout / 10, act=act)
    x = _downsample(x, c2, "b2_0", dropout=dropout, act=act)
    for stage in (2, 3):
        for i, (kind, dil) in enumerate(_STAGE23, start=1):
            x = _bottleneck(x, c2, f"b{stage}_{i}", kind=kind, dilation=dil, dropout=dropout, act=act)
    x = _upsample(x, c1, "b4_0", dropout=dropout, act=act, unpool=unpool)
    for i in (1, 2):
        x = _bottleneck(x, c1, f"b4_{i}", dropout=dropout, act=act)
    x = _upsample(x, c0, "b5_0", dropout=dropout, act=act, unpool=unpool)
    x = _bottleneck(x, c0, "b5_1", dropout=dropout, act=act)
    if head == "transpose":
        x = L.Conv2DTranspose(num_classes, 2, strides=2, padding="same", name="fullconv")(x)
        return L.Conv2D(num_classes, 1, name="classifier")(x)
    x = L.UpSampling2D(2, interpolation="bilinear", name="fullconv_resize")(x)
    return L.Conv2D(num_classes, 3, padding="same", name="classifier")(x)
