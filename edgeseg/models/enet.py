"""ENet (Paszke et al. 2016): an initial block and five stages of residual bottlenecks, stride 8."""

from __future__ import annotations

from typing import Any

import numpy as np

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


def _initial(x: Any, channels: int, act: str, merge: str) -> Any:
    """3x3/2 conv with ``channels - 3`` filters, concatenated with a 2x2 max-pool of the image.

    ``merge="add"`` computes the same function without CONCATENATION: a 3x3/2 conv to all
    ``channels`` plus a 1x1 conv of the pooled image, each with its own BatchNorm (so both fold into
    their convs), added (see :func:`_downsample`)."""
    pool = L.MaxPooling2D(2, name="initial_pool")(x)
    if merge == "add":
        conv = bn(L.Conv2D(channels, 3, strides=2, padding="same", use_bias=False, name="initial_conv")(x),
                  "initial_conv")
        proj = bn(L.Conv2D(channels, 1, use_bias=False, name="initial_pool_proj")(pool), "initial_pool_proj")
        return activation(L.Add(name="initial_add")([conv, proj]), act, "initial")
    conv = L.Conv2D(channels - int(x.shape[-1]), 3, strides=2, padding="same", name="initial_conv")(x)
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


def _downsample(x: Any, out: int, name: str, *, dropout: float, act: str, merge: str) -> Any:
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
    pool = L.MaxPooling2D(2, name=f"{name}_pool")(x)
    if merge == "add":
        # The pool branch through a 1x1 projection (zero-padding is the projection [I 0], which
        # `merge_as_add` sets when converting a trained concat model), added to the full 1x1
        # expansion: no CONCATENATION, which ONNX Runtime's NHWC int8 path cannot keep
        # channels-last (every residual ADD after it then runs between two TRANSPOSEs).
        proj = L.Conv2D(out, 1, use_bias=False, name=f"{name}_pool_pad")(pool)
        y = _dropout(bn(_conv(y, out, 1, f"{name}_expand"), f"{name}_expand"), dropout, f"{name}_dropout")
        return activation(L.Add(name=f"{name}_add")([proj, y]), act, f"{name}_main")
    y_main = _dropout(bn(_conv(y, cin, 1, f"{name}_expand"), f"{name}_expand"), dropout, f"{name}_dropout")
    y_rest = bn(_conv(y, out - cin, 1, f"{name}_expand_pad"), f"{name}_expand_pad")
    y_rest = _dropout(y_rest, dropout, f"{name}_dropout_pad")
    # Activate before concatenating (equal for per-channel ReLU/PReLU): the ReLUs then fuse into the
    # ADD and the CONV; a standalone int8 RELU after CONCATENATION is not taken by XNNPACK.
    merged = activation(L.Add(name=f"{name}_add")([pool, y_main]), act, f"{name}_main")
    return L.Concatenate(name=f"{name}_concat")([merged, activation(y_rest, act, f"{name}_pad")])


def _upsample(x: Any, out: int, name: str, *, dropout: float, act: str, unpool: str, upconv: str) -> Any:
    """Upsampling bottleneck: main 1x1 conv + 2x resize (instead of max-unpooling), 3x3/2 transposed
    conv branch (``upconv="resize"``: 2x nearest resize + 3x3 conv, the same receptive field)."""
    internal = max(2, int(x.shape[-1]) // 4)
    main = bn(_conv(x, out, 1, f"{name}_main"), f"{name}_main")
    main = L.UpSampling2D(2, interpolation=unpool, name=f"{name}_unpool")(main)
    y = activation(bn(_conv(x, internal, 1, f"{name}_reduce"), f"{name}_reduce"), act, f"{name}_reduce")
    if upconv == "transpose":
        y = L.Conv2DTranspose(internal, 3, strides=2, padding="same", use_bias=False, name=f"{name}_deconv")(y)
    else:
        y = L.UpSampling2D(2, interpolation="nearest", name=f"{name}_deconv_resize")(y)
        y = _conv(y, internal, 3, f"{name}_deconv")
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
               "where quantised PReLU is not accelerated; upconv 'resize' replaces the 3x3/2 transposed "
               "convs of the upsampling bottlenecks by nearest x2 + 3x3 conv (no ConvTranspose, which "
               "ONNX Runtime runs in float even in a QDQ int8 model); merge 'add' replaces the concats of the "
               "initial block and downsampling bottlenecks by adds of a 1x1 projection of the pooled branch "
               "(the onnx-int8 export converts trained concat models to it exactly).",
    options={"width": 1.0, "activation": "prelu", "dropout": 0.1, "unpool": "bilinear", "head": "transpose",
             "upconv": "transpose", "merge": "concat"},
    choices={"activation": ("prelu", "relu"), "unpool": ("bilinear", "nearest"),
             "head": ("transpose", "bilinear"), "upconv": ("transpose", "resize"),
             "merge": ("concat", "add")},
    stride=8,
)
def build_enet(inputs: Any, num_classes: int, *, width: float, activation: str, dropout: float,
               unpool: str, head: str, upconv: str, merge: str) -> Any:
    """ENet logits; ``width`` scales the 16/64/128 stage channels, ``dropout`` is the stage 2-5 rate
    (stage 1 uses a tenth of it, as in the paper)."""
    check_range("enet", "width", width, 0.125, 4.0)
    check_range("enet", "dropout", dropout, 0.0, 0.9)
    act = activation
    c0 = max(int(inputs.shape[-1]) + 1, scaled(16, width))
    c1, c2 = scaled(64, width), scaled(128, width)
    x = _initial(inputs, c0, act, merge)
    x = _downsample(x, c1, "b1_0", dropout=dropout / 10, act=act, merge=merge)
    for i in range(1, 5):
        x = _bottleneck(x, c1, f"b1_{i}", dropout=dropout / 10, act=act)
    x = _downsample(x, c2, "b2_0", dropout=dropout, act=act, merge=merge)
    for stage in (2, 3):
        for i, (kind, dil) in enumerate(_STAGE23, start=1):
            x = _bottleneck(x, c2, f"b{stage}_{i}", kind=kind, dilation=dil, dropout=dropout, act=act)
    x = _upsample(x, c1, "b4_0", dropout=dropout, act=act, unpool=unpool, upconv=upconv)
    for i in (1, 2):
        x = _bottleneck(x, c1, f"b4_{i}", dropout=dropout, act=act)
    x = _upsample(x, c0, "b5_0", dropout=dropout, act=act, unpool=unpool, upconv=upconv)
    x = _bottleneck(x, c0, "b5_1", dropout=dropout, act=act)
    if head == "transpose":
        x = L.Conv2DTranspose(num_classes, 2, strides=2, padding="same", name="fullconv")(x)
        return L.Conv2D(num_classes, 1, name="classifier")(x)
    x = L.UpSampling2D(2, interpolation="bilinear", name="fullconv_resize")(x)
    return L.Conv2D(num_classes, 3, padding="same", name="classifier")(x)


def merge_as_add(model: Any) -> Any | None:
    """The same function as a trained ``merge="concat"`` ENet, rebuilt with ``merge="add"``.

    The initial block and the two downsampling bottlenecks concatenate channels; ONNX Runtime's
    channels-last int8 path keeps QLinearConv/QLinearAdd in NHWC but not Concat (nor a float
    BatchNorm after it), so from the first concat on every residual add of an int8 ENet runs
    between two transposes and its max-pools run channels-first (measured: 54 transposes, int8
    slower than fp32). The ``add`` form has no concat; its weights are set so that it computes
    exactly what ``model`` computes at inference (zero/identity kernels, BatchNorms split per branch,
    the initial conv's bias moved into its BatchNorm mean). Returns ``None`` when ``model`` is not
    a concat ENet of this module (e.g. already ``add``, or another architecture).
    """
    names = {layer.name: layer for layer in model.layers}
    if not {"initial_concat", "b1_0_concat", "b2_0_concat", "initial_bn"} <= set(names):
        return None
    options = _infer_options(names)
    if options is None:
        return None
    from edgeseg.models.registry import build

    size = tuple(int(v) for v in model.input_shape[1:4])
    classes = int(model.output_shape[-1])
    new = build("enet", classes, size, **options, merge="add")
    new_names = {layer.name: layer for layer in new.layers}
    done: set[str] = set()
    try:
        _convert_initial(names, new_names, done)
        for block in ("b1_0", "b2_0"):
            _convert_downsample(block, names, new_names, done, options["activation"])
    except (KeyError, ValueError):  # a layer missing or shaped otherwise: not a model this module built
        return None
    for name, layer in new_names.items():
        if name in done or not layer.weights:
            continue
        old = names.get(name)
        if old is None or [w.shape for w in old.get_weights()] != [w.shape for w in layer.get_weights()]:
            return None  # not the layout this module builds: leave the model as it is
        layer.set_weights(old.get_weights())
    return new


def _infer_options(names: dict[str, Any]) -> dict[str, Any] | None:
    act = "relu" if "initial_relu" in names else "prelu" if "initial_prelu" in names else None
    if act is None or "b1_1_expand" not in names:
        return None
    c1 = int(names["b1_1_expand"].filters)
    width = c1 / 64.0
    head = "transpose" if isinstance(names.get("fullconv"), L.Conv2DTranspose) else "bilinear"
    upconv = "transpose" if isinstance(names.get("b4_0_deconv"), L.Conv2DTranspose) else "resize"
    unpool = getattr(names.get("b4_0_unpool"), "interpolation", "bilinear")
    return {"width": width, "activation": act, "head": head, "upconv": upconv, "unpool": unpool}


def _bn_params(layer: Any) -> list[np.ndarray]:
    gamma, beta, mean, var = layer.get_weights()
    return [gamma.copy(), beta.copy(), mean.copy(), var.copy()]


def _silent_bn(channels: int) -> list[np.ndarray]:
    """BatchNorm weights that map a zero input to zero: gamma 1, beta 0, mean 0, var 1."""
    return [np.ones(channels, np.float32), np.zeros(channels, np.float32), np.zeros(channels, np.float32),
            np.ones(channels, np.float32)]


def _convert_initial(old: dict[str, Any], new: dict[str, Any], done: set[str]) -> None:
    kernel, bias = old["initial_conv"].get_weights()  # (3, 3, cin, c0 - cin), (c0 - cin,)
    cin, k = kernel.shape[2], kernel.shape[3]
    c0 = k + cin
    bn_old = _bn_params(old["initial_bn"])
    conv_k = np.zeros((3, 3, cin, c0), np.float32)
    conv_k[..., :k] = kernel
    conv_bn = _silent_bn(c0)
    for i in range(4):
        conv_bn[i][:k] = bn_old[i][:k]
    conv_bn[2][:k] -= bias  # BN(z + b) = BN with mean - b
    proj_k = np.zeros((1, 1, cin, c0), np.float32)
    proj_k[0, 0, np.arange(cin), k + np.arange(cin)] = 1.0
    proj_bn = _silent_bn(c0)
    for i in range(4):
        proj_bn[i][k:] = bn_old[i][k:]
    new["initial_conv"].set_weights([conv_k])
    new["initial_conv_bn"].set_weights(conv_bn)
    new["initial_pool_proj"].set_weights([proj_k])
    new["initial_pool_proj_bn"].set_weights(proj_bn)
    if "initial_prelu" in old:
        new["initial_prelu"].set_weights(old["initial_prelu"].get_weights())
    done.update({"initial_conv", "initial_conv_bn", "initial_pool_proj", "initial_pool_proj_bn", "initial_prelu"})


def _convert_downsample(name: str, old: dict[str, Any], new: dict[str, Any], done: set[str], act: str) -> None:
    (k_main,), (k_pad,) = old[f"{name}_expand"].get_weights(), old[f"{name}_expand_pad"].get_weights()
    cin = k_main.shape[3]
    out = cin + k_pad.shape[3]
    new[f"{name}_expand"].set_weights([np.concatenate([k_main, k_pad], axis=3)])
    bn_main, bn_pad = _bn_params(old[f"{name}_expand_bn"]), _bn_params(old[f"{name}_expand_pad_bn"])
    new[f"{name}_expand_bn"].set_weights([np.concatenate([a, b]) for a, b in zip(bn_main, bn_pad)])
    new[f"{name}_pool_pad"].set_weights([np.eye(cin, out, dtype=np.float32)[None, None]])
    done.update({f"{name}_expand", f"{name}_expand_bn", f"{name}_pool_pad"})
    if act == "prelu":
        (a_main,), (a_pad,) = old[f"{name}_main_prelu"].get_weights(), old[f"{name}_pad_prelu"].get_weights()
        new[f"{name}_main_prelu"].set_weights([np.concatenate([a_main, a_pad], axis=-1)])
        done.add(f"{name}_main_prelu")


def fuse_transpose_head(model: Any) -> Any | None:
    """``model`` with its ``transpose`` head (2x2/2 transposed conv, then a 1x1 classifier conv,
    nothing between) folded into one 2x2/2 transposed conv: the same function without the
    full-resolution 1x1 conv. For runtimes where that conv is slow (ONNX Runtime's int8 kernels
    with 11 output channels: 5 ms of a 34 ms ENet); not for LiteRT, whose CompiledModel failed on a
    graph ending in TRANSPOSE_CONV (the reason the head has the 1x1 conv). ``None`` when ``model``
    has no such head."""
    names = {layer.name: layer for layer in model.layers}
    full, cls = names.get("fullconv"), names.get("classifier")
    if not isinstance(full, L.Conv2DTranspose) or not isinstance(cls, L.Conv2D) or model.outputs[0] is not cls.output:
        return None
    if full.output is not cls.input or tuple(cls.kernel_size) != (1, 1) or cls.activation.__name__ != "linear":
        return None
    k, kb = full.get_weights()  # (kh, kw, filters, in)
    c, cb = cls.get_weights()   # (1, 1, filters, classes)
    fused = L.Conv2DTranspose(c.shape[-1], full.kernel_size, strides=full.strides, padding=full.padding,
                              name="fullconv_classifier")
    from edgeseg._keras import keras

    new = keras.Model(model.inputs, fused(full.input), name=model.name)
    fused.set_weights([np.einsum("abmc,mk->abkc", k, c[0, 0]), kb @ c[0, 0] + cb])
    return new
