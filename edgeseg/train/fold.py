"""Training-graph rewrite: a linear upsampling head computed at the input resolution.

ENet's and LinkNet's ``transpose`` heads end in a k x k / k transposed convolution with no activation
followed by a 1x1 classifier convolution. Both run at the output resolution with few channels, where
oneDNN's kernels are slow (the classifier's weight gradient alone took ~10 ms per 8x256x320 LinkNet
step in ``ONEDNN_VERBOSE=1`` timings). Both are linear, so together they are one map from each input
pixel to a k x k block of output pixels: ``y[k*i + a, k*j + b] = (x[i, j] @ T[a, b]) @ C + (t @ C + c)``.
The training copy computes that as one float32 matmul at the input resolution with the kernel ``T @ C``
built from the two layers' own variables each step, then a depth-to-space: the same function and, by
the chain rule through ``T @ C``, the same gradients for the same variables, without the two
full-resolution convolutions (benchmarks/loss_speed.py, LinkNet's head + ce, value and gradients, 8x256x320:
44 -> 35 ms from a float32 input, 49 -> 36 ms from a bf16 one; docs/train.md "Mixed precision").

Only the training copy is rewritten; validation, checkpoints and saved files use the plain layers.
"""

from __future__ import annotations

import logging

from edgeseg._keras import keras, tf

log = logging.getLogger(__name__)


class FoldedUpsamplingHead(keras.layers.Layer):
    """``classifier(up(x))`` for a linear k x k / k transposed conv ``up`` and a linear 1x1 conv
    ``classifier``, computed as one matmul + depth-to-space in float32, on the two layers' variables."""

    def __init__(self, up: keras.layers.Layer, classifier: keras.layers.Layer, **kwargs: object) -> None:
        super().__init__(name=f"{classifier.name}_folded", dtype="float32", **kwargs)
        self.up, self.classifier = up, classifier  # tracked: their variables are this layer's

    def call(self, x: tf.Tensor) -> tf.Tensor:
        s = int(self.up.strides[0])
        up_kernel = tf.convert_to_tensor(self.up.kernel)  # (s, s, mid, in)
        cls_kernel = tf.convert_to_tensor(self.classifier.kernel)[0, 0]  # (mid, classes)
        channels, classes = int(up_kernel.shape[-1]), int(cls_kernel.shape[-1])
        kernel = tf.reshape(tf.einsum("abmc,mk->cabk", up_kernel, cls_kernel), [channels, s * s * classes])
        bias = tf.zeros([classes])
        if self.up.use_bias:
            bias += tf.linalg.matvec(cls_kernel, tf.convert_to_tensor(self.up.bias), transpose_a=True)
        if self.classifier.use_bias:
            bias += tf.convert_to_tensor(self.classifier.bias)
        shape = tf.shape(x)
        y = tf.matmul(tf.reshape(tf.cast(x, tf.float32), [-1, channels]), kernel)
        y = tf.nn.bias_add(tf.reshape(y, [shape[0], shape[1], shape[2], s * s * classes]), tf.tile(bias, [s * s]))
        return tf.nn.depth_to_space(y, s)


def _linear(layer: keras.layers.Layer) -> bool:
    return getattr(layer.activation, "__name__", "") == "linear"


def _foldable(up: keras.layers.Layer, classifier: keras.layers.Layer) -> bool:
    """Whether ``up`` -> ``classifier`` is a linear k x k / k transposed conv into a linear 1x1 conv,
    channels last, each called once, ``up`` feeding nothing else."""
    if not isinstance(up, keras.layers.Conv2DTranspose) or type(classifier) is not keras.layers.Conv2D:
        return False
    k, s = tuple(up.kernel_size), tuple(up.strides)
    return (k == s and k[0] == k[1] and tuple(up.dilation_rate) == (1, 1) and up.output_padding is None
            and up.data_format == classifier.data_format == "channels_last" and _linear(up) and _linear(classifier)
            and tuple(classifier.kernel_size) == (1, 1) and tuple(classifier.strides) == (1, 1)
            and getattr(classifier, "groups", 1) == 1
            and len(up.inbound_nodes) == 1 and len(up.outbound_nodes) == 1 and len(classifier.inbound_nodes) == 1
            and classifier.input is up.output)


def fold_upsampling_head(model: keras.Model) -> keras.Model:
    """A functional model computing the same outputs as ``model``, on the same variables in the same order,
    with every output that is a foldable ``classifier(up(x))`` computed by :class:`FoldedUpsamplingHead`;
    ``model`` itself when it has none (or when the rewrite would reorder the weights, which the
    Trainer's weight copies rely on)."""
    by_output = {id(layer.output): layer for layer in model.layers if len(layer.inbound_nodes) == 1}
    outputs, folded = [], 0
    for out in model.outputs:
        classifier = by_output.get(id(out))
        up = by_output.get(id(classifier.input)) if classifier is not None else None
        if up is not None and _foldable(up, classifier):
            outputs.append(FoldedUpsamplingHead(up, classifier)(up.input))
            folded += 1
        else:
            outputs.append(out)
    if not folded:
        return model
    new = keras.Model(model.inputs, outputs if len(outputs) > 1 else outputs[0], name=model.name)
    if [id(v) for v in new.weights] != [id(v) for v in model.weights]:
        log.debug("upsampling head not folded: the rewrite would reorder the weights")
        return model
    return new


__all__ = ["FoldedUpsamplingHead", "fold_upsampling_head"]
