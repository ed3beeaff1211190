"""Load an untrusted Keras .h5 safely: sniff it, read its JSON config, refuse code, then load."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Iterator

from edgeseg.core.fileio import require_format
from edgeseg.errors import ModelError, one_line

log = logging.getLogger(__name__)

#: Layer classes that carry serialised Python code (marshalled bytecode) executed on load.
CODE_LAYERS = frozenset({"Lambda"})
#: Containers whose ``config.layers`` hold nested layers.
_CONTAINERS = frozenset({"Functional", "Model", "Sequential"})


def read_model_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``model_config`` JSON of a Keras .h5, read with h5py only (no Keras, no code runs).

    Raises:
        ModelError: not an HDF5 file, truncated/corrupt, or no Keras model config inside.
    """
    require_format(path, "h5")
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            raw = fh.attrs.get("model_config")
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"{path}: corrupt or truncated HDF5 file ({one_line(exc, 160)})") from None
    if raw is None:
        raise ModelError(f"{path}: HDF5 file holds no Keras model (no model_config; weights-only file?)")
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        config = json.loads(raw)
    except json.JSONDecodeError:
        raise ModelError(f"{path}: model_config is not valid JSON") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise ModelError(f"{path}: model_config is not a Keras model description")
    return config


def h5_keras_version(path: str | os.PathLike[str]) -> str | None:
    """The ``keras_version`` attribute of a Keras .h5 (``2.x``: tf_keras, ``3.x``: Keras 3), ``None`` if absent."""
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            raw = fh.attrs.get("keras_version")
    except (OSError, ValueError, KeyError):
        return None
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else (None if raw is None else str(raw))


def iter_layer_configs(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every layer config in a model config, nested models and wrapped layers included (depth first).

    Wrappers (tfmot's ``QuantizeWrapperV2``, ``TimeDistributed``, ``Bidirectional``) keep the layer
    they wrap under ``config.layer`` (``forward_layer``/``backward_layer``): a Lambda hidden there
    runs code on load just the same.
    """
    layers = (config.get("config") or {}).get("layers") or []
    for layer in layers:
        if isinstance(layer, dict):
            yield from _layer_and_wrapped(layer)


def _layer_and_wrapped(layer: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield layer
    if layer.get("class_name") in _CONTAINERS:
        yield from iter_layer_configs(layer)
    inner = layer.get("config") or {}
    for key in ("layer", "forward_layer", "backward_layer"):
        wrapped = inner.get(key) if isinstance(inner, dict) else None
        if isinstance(wrapped, dict) and "class_name" in wrapped:
            yield from _layer_and_wrapped(wrapped)


def tfmot_layer_classes() -> dict[str, Any]:
    """The layer classes of tensorflow-model-optimization's quantisation (what ``train --qat`` writes),
    by name; empty where tfmot is not installed."""
    try:
        from edgeseg._keras import keras  # noqa: F401  (tf_keras before tfmot)
        import tensorflow_model_optimization as tfmot
    except ImportError:  # pragma: no cover - tfmot is part of the train extra
        return {}
    scope = tfmot.quantization.keras.quantize_scope()
    names: dict[str, Any] = {}
    for mapping in getattr(scope, "custom_objects", ()):  # CustomObjectScope keeps the dicts it was given
        names.update(mapping)
    return names


def uses_tfmot(config: dict[str, Any]) -> bool:
    """Whether a model config holds tfmot quantisation layers (a QAT model: ``QuantizeLayer``,
    ``QuantizeWrapperV2``, ...)."""
    return any(str(lay.get("class_name", "")).startswith("Quantize") for lay in iter_layer_configs(config))


def known_layer_classes() -> set[str]:
    """Class names tf_keras can rebuild without custom objects (imports TensorFlow)."""
    from edgeseg._keras import keras

    names = {n for n in dir(keras.layers) if not n.startswith("_")}
    names |= set(_CONTAINERS) | {"InputLayer", "TFOpLambda", "SlicingOpLambda"}
    try:  # layers the edgeseg model zoo registers (``edgeseg>Name``) are ours, hence trusted
        import edgeseg.models  # noqa: F401
    except ImportError:  # pragma: no cover - models not installed
        pass
    names |= {k for k in keras.utils.get_custom_objects() if k.startswith("edgeseg>")}
    return names


def _known_for(config: dict[str, Any]) -> set[str]:
    known = known_layer_classes()
    if uses_tfmot(config):  # tfmot's own classes are loaded inside its quantize_scope; they run no user code
        known |= set(tfmot_layer_classes())
    return known


def check_model_config(path: str | os.PathLike[str], config: dict[str, Any], *, trust_model: bool) -> None:
    """Refuse code-carrying layers (unless trusted) and layer classes Keras does not know.

    Raises:
        ModelError: one line naming the first offending layer.
    """
    offenders = [lay for lay in iter_layer_configs(config) if lay.get("class_name") in CODE_LAYERS]
    if offenders and not trust_model:
        name = (offenders[0].get("config") or {}).get("name", "?")
        more = f" (and {len(offenders) - 1} more)" if len(offenders) > 1 else ""
        raise ModelError(f"{path}: layer {name!r} is a Lambda layer{more}, which runs pickled Python code on "
                         "load; rebuild the model without Lambda layers, or pass --trust-model if you trust "
                         "this file")
    known = _known_for(config)
    for lay in iter_layer_configs(config):
        cls = str(lay.get("class_name", ""))
        if cls not in known:
            name = (lay.get("config") or {}).get("name", "?")
            raise ModelError(f"{path}: layer {name!r} uses the custom class {cls!r}, which tf_keras cannot "
                             "rebuild; replace it with builtin layers before converting")


def load_keras_model(path: str | os.PathLike[str], *, trust_model: bool = False) -> Any:
    """Sniff, inspect and load a Keras .h5 (``compile=False``); user errors become :class:`ModelError`."""
    path = Path(path)
    config = read_model_config(path)
    check_model_config(path, config, trust_model=trust_model)
    from edgeseg._keras import keras

    scope = contextlib.nullcontext()
    if uses_tfmot(config):  # a QAT model: tfmot's classes deserialise inside its quantize_scope
        import tensorflow_model_optimization as tfmot

        scope = tfmot.quantization.keras.quantize_scope()
    try:
        with scope:
            return keras.models.load_model(path, compile=False, safe_mode=not trust_model)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}: cannot load the Keras model ({one_line(exc, 160)})") from None

