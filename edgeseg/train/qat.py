"""Quantisation-aware training with tfmot: annotate what tfmot supports, handle or skip the rest."""

from __future__ import annotations

import logging
from pathlib import Path

from edgeseg._keras import keras

log = logging.getLogger(__name__)


def _tfmot():
    import tensorflow_model_optimization as tfmot  # lazy: heavy, training-only dependency

    return tfmot


def quantize_for_training(model: keras.Model) -> tuple[keras.Model, list[str]]:
    """A QAT copy of ``model`` (weights kept) and the names of layers left in float.

    Layers tfmot's default 8-bit registry supports are annotated as is; PReLU gets a config that
    quantises its ``alpha`` and output; anything else is left unquantised and listed.
    """
    tfmot = _tfmot()
    qk = tfmot.quantization.keras
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as reg_mod,
    )

    registry = reg_mod.Default8BitQuantizeRegistry()
    skipped: list[str] = []

    def annotate(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.layers.InputLayer):
            return layer
        if isinstance(layer, keras.layers.PReLU):
            cfg = reg_mod.Default8BitQuantizeConfig(["alpha"], [], True)
            return qk.quantize_annotate_layer(layer, quantize_config=cfg)
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
