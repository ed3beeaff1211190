"""Rebuild a functional model for another static input size, sharing nothing but its weights."""

from __future__ import annotations

import copy

from edgeseg._keras import keras


def with_input_size(model: keras.Model, size: tuple[int, int]) -> keras.Model:
    """A copy of ``model`` whose input is ``(size[0], size[1], C)``, with the same weights.

    Used to train on crops and validate/export at the full frame size: every zoo model is fully
    convolutional, and its resize layers derive their output shapes from their inputs.
    Returns ``model`` itself when the size already matches.
    """
    h, w = size
    if tuple(model.input_shape[1:3]) == (h, w):
        return model
    return _rebuild(model, size)


def copy_model(model: keras.Model) -> keras.Model:
    """A separate copy of ``model`` (same architecture and weights, no shared variables)."""
    return _rebuild(model, tuple(model.input_shape[1:3]))


def _rebuild(model: keras.Model, size: tuple[int, int]) -> keras.Model:
    h, w = size
    config = copy.deepcopy(model.get_config())
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            shape = list(layer["config"]["batch_input_shape"])
            layer["config"]["batch_input_shape"] = [shape[0], h, w, *shape[3:]]
    clone = keras.Model.from_config(config)
    clone.set_weights(model.get_weights())
    return clone
