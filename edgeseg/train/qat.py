"""Quantisation-aware training with tfmot: annotate what tfmot supports, handle or skip the rest."""

from __future__ import annotations

import logging
from pathlib import Path

from edgeseg._keras import keras

log = logging.getLogger(__name__)


def _tfmot():
    import tensorflow_model_optimization as tfmot  # lazy: heavy, training-only dependency

    return tfmot


_FOLDABLE = ("Conv2D", "DepthwiseConv2D")


def _bn_follows_conv(layer: keras.layers.Layer) -> bool:
    """Whether a BatchNormalization reads one linear Conv2D/DepthwiseConv2D (tfmot folds that pair)."""
    inbound = [n.inbound_layers for n in layer.inbound_nodes]
    if len(inbound) != 1 or isinstance(inbound[0], list):
        return False
    prev = inbound[0]
    return (type(prev).__name__ in _FOLDABLE and prev.get_config().get("activation") == "linear"
            and len(prev.outbound_nodes) == 1)


def quantize_for_training(model: keras.Model) -> tuple[keras.Model, list[str]]:
    """A QAT copy of ``model`` (weights kept) and the names of layers left in float.

    Layers tfmot's default 8-bit registry supports are annotated as is. BatchNormalization is
    not in that registry: one that directly follows a linear Conv2D/DepthwiseConv2D is annotated
    without a config, so tfmot's Conv+BN(+ReLU) transforms take the pair (no fake-quant between
    conv and BN; the converter folds BN into the conv); any other BN (after a transposed conv, a
    concatenation, ...) gets output quantisation. PReLU gets a config that quantises its
    ``alpha`` and output. Anything else is left unquantised and listed.
    """
    tfmot = _tfmot()
    qk = tfmot.quantization.keras
    from edgeseg._tf_private import tfmot_default_8bit

    cfg_mod, reg_mod = tfmot_default_8bit()

    registry = reg_mod.Default8BitQuantizeRegistry()
    skipped: list[str] = []
    folded = {layer.name for layer in model.layers
              if isinstance(layer, keras.layers.BatchNormalization) and _bn_follows_conv(layer)}

    def annotate(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.layers.InputLayer):
            return layer
        if isinstance(layer, keras.layers.PReLU):
            cfg = reg_mod.Default8BitQuantizeConfig(["alpha"], [], True)
            return qk.quantize_annotate_layer(layer, quantize_config=cfg)
        if isinstance(layer, keras.layers.BatchNormalization):
            if layer.name in folded:
                return qk.quantize_annotate_layer(layer)
            return qk.quantize_annotate_layer(layer, quantize_config=cfg_mod.Default8BitOutputQuantizeConfig())
        if registry.supports(layer):
            return qk.quantize_annotate_layer(layer)
        skipped.append(f"{layer.name} ({type(layer).__name__})")
        return layer

    annotated = keras.models.clone_model(model, clone_function=annotate)
    annotated.set_weights(model.get_weights())
    with qk.quantize_scope():
        qat = qk.quantize_apply(annotated)
    if skipped:
        log.info("QAT left %d layer(s) in float: %s", len(skipped), ", ".join(skipped))
    return qat, skipped


def load_qat_model(path: str | Path) -> keras.Model:
    """Load a QAT ``.h5`` (tfmot wrappers) inside tfmot's ``quantize_scope``."""
    qk = _tfmot().quantization.keras
    with qk.quantize_scope():
        return keras.models.load_model(path, compile=False)
