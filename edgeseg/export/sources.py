"""Model sources behind one interface: tf_keras .h5, Keras 3 .keras / .h5 (keras-hub too), TensorFlow SavedModel.

:func:`open_source` sniffs the path, inspects the file without running anything from it
(``safety`` / ``safety_keras3``), loads it with the Keras that wrote it and returns a
:class:`ModelSource`: a callable ``NHWC float32 -> first output`` plus what conversion needs to know
(input shape and channels, class count, whether the graph starts by rescaling raw pixels). The
exporters never see which kind it was: :mod:`edgeseg.export.graph` turns any source into one graph.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from edgeseg.core.fileio import sniff_model_format
from edgeseg.errors import ExportError, ModelError, one_line

log = logging.getLogger(__name__)

#: Layer classes that, first in the graph, mean the model takes raw pixels 0..255.
PIXEL_LAYERS = ("Rescaling", "Normalization")


@dataclass
class ModelSource:
    """A loaded model of any supported kind.

    Attributes:
        path: The file or SavedModel folder.
        kind: Human name: ``tf_keras .h5``, ``Keras 3 .keras``, ``Keras 3 .h5``, ``SavedModel``.
        flavour: ``tf_keras``, ``keras3`` or ``savedmodel`` (which Keras the graph belongs to).
        call: ``x -> y``: the model's first output for a float32 NHWC batch (TensorFlow ops).
        input_shape: ``(H, W, C)``, ``None`` for free spatial dimensions.
        num_classes: Channels of the first output.
        name: The model's name.
        model: The Keras model object (``None`` for a SavedModel).
        trackable: What owns the variables (passed to the TFLite converter).
        raw_pixels: Name of the leading ``Rescaling``/``Normalization`` layer, if the graph starts with one.
    """

    path: Path
    kind: str
    flavour: str
    call: Callable[[Any], Any]
    input_shape: tuple[int | None, int | None, int]
    num_classes: int
    name: str
    model: Any = None
    trackable: Any = None
    raw_pixels: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def channels(self) -> int:
        """Input channels (3 for RGB, 1 for grayscale)."""
        return int(self.input_shape[2])

    @property
    def static_size(self) -> tuple[int, int] | None:
        """The model's own ``(H, W)`` if both are fixed."""
        h, w = self.input_shape[:2]
        return (int(h), int(w)) if h is not None and w is not None else None


def source_format(path: str | os.PathLike[str]) -> str:
    """``h5``, ``keras`` or ``savedmodel`` (one-line :class:`ModelError` for anything else)."""
    fmt = sniff_model_format(path)
    if fmt not in ("h5", "keras", "savedmodel"):
        raise ModelError(f"{path}: is a {fmt} file, expected h5 or .keras (Keras) or a SavedModel folder")
    return fmt


def inspect_source(path: str | os.PathLike[str], *, trust_model: bool = False) -> str:
    """Everything that can be checked without TensorFlow (sniff, config, refused code); returns the kind."""
    from edgeseg.export import safety, safety_keras3

    fmt = source_format(path)
    if fmt == "keras":
        config, _ = safety_keras3.read_keras_zip(path)
        safety_keras3.check_keras3_config(path, config, trust_model=trust_model)
        return "Keras 3 .keras"
    if fmt == "savedmodel":
        return "SavedModel"
    config = safety.read_model_config(path)
    if safety_keras3.is_keras3_config(config, safety.h5_keras_version(path)):
        safety_keras3.check_keras3_config(path, config, trust_model=trust_model)
        return "Keras 3 .h5"
    return "tf_keras .h5"


def open_source(path: str | os.PathLike[str], *, trust_model: bool = False) -> ModelSource:
    """Inspect, then load a model source with the Keras (or TensorFlow) that wrote it."""
    path = Path(path)
    kind = inspect_source(path, trust_model=trust_model)
    if kind == "tf_keras .h5":
        from edgeseg.export.safety import load_keras_model

        return _from_keras(path, kind, "tf_keras", load_keras_model(path, trust_model=trust_model))
    if kind == "SavedModel":
        return _saved_model(path)
    return _from_keras(path, kind, "keras3", _load_keras3(path, kind, trust_model))


def _load_keras3(path: Path, kind: str, trust_model: bool) -> Any:
    from edgeseg.export import safety, safety_keras3

    config = safety_keras3.read_keras_zip(path)[0] if kind.endswith(".keras") else safety.read_model_config(path)
    from edgeseg._keras3 import keras, keras_hub
    from edgeseg.core.native_log import native_stderr

    if safety_keras3.needs_keras_hub(config):
        keras_hub(str(path))
    try:
        with native_stderr("keras load"):
            return keras.saving.load_model(path, compile=False, safe_mode=not trust_model)
    except ModelError:
        raise
    except Exception as exc:  # Keras 3 raises many types for damaged or foreign files
        raise ModelError(f"{path}: cannot load the {kind} model ({one_line(exc, 160)})") from None


def _leading_layer(model: Any) -> Any:
    """The first layer after the input (descending into nested models)."""
    for layer in getattr(model, "layers", []):
        if type(layer).__name__ == "InputLayer":
            continue
        if hasattr(layer, "layers") and layer.layers:
            return _leading_layer(layer)
        return layer
    return None


def from_keras(model: Any, path: str | os.PathLike[str] | None = None) -> ModelSource:
    """A source around an already loaded Keras model (tf_keras or Keras 3)."""
    keras3 = type(model).__module__.split(".")[0] in ("keras", "keras_hub")
    return _from_keras(Path(path or f"{model.name}.h5"), "Keras 3 model" if keras3 else "tf_keras model",
                       "keras3" if keras3 else "tf_keras", model)


def _from_keras(path: Path, kind: str, flavour: str, model: Any) -> ModelSource:
    shape = tuple(model.inputs[0].shape)
    out = tuple(model.outputs[0].shape)
    if len(shape) != 4:
        raise ExportError(f"{path}: model input has shape {shape}; expected NHWC images")
    if len(out) != 4 or out[-1] is None:
        raise ExportError(f"{path}: model output has shape {out}; expected (N, H, W, classes) logits")
    first = _leading_layer(model)
    raw = first.name if first is not None and type(first).__name__ in PIXEL_LAYERS else None
    single = len(model.outputs) == 1

    def call(x: Any) -> Any:
        y = model(x, training=False)
        return y if single else y[0]

    return ModelSource(path, kind, flavour, call, (shape[1], shape[2], int(shape[3] or 3)), int(out[-1]),
                       model.name, model=model, trackable=model, raw_pixels=raw,
                       details={"batch_free": shape[0] is None})


def _saved_model(path: Path) -> ModelSource:
    from edgeseg._keras import tf
    from edgeseg.core.native_log import native_stderr

    if not (path / "variables").is_dir():  # tf.saved_model.save always writes it, even for no variables
        raise ModelError(f"{path}: the SavedModel has no variables/ folder (incomplete copy?)")
    try:
        with native_stderr("saved_model load"):
            loaded = tf.saved_model.load(str(path))
    except Exception as exc:  # missing variables, bad protobuf, ...: TensorFlow raises many types
        first = one_line(exc, 160)
        raise ModelError(f"{path}: cannot load the SavedModel ({first})") from None
    sigs = dict(getattr(loaded, "signatures", {}) or {})
    if not sigs:
        raise ModelError(f"{path}: the SavedModel has no signatures (export it with a serving signature)")
    name = "serving_default" if "serving_default" in sigs else sorted(sigs)[0]
    sig = sigs[name]
    inputs = sig.structured_input_signature[1]
    if len(inputs) != 1:
        raise ModelError(f"{path}: signature {name!r} takes {len(inputs)} inputs; expected one image tensor")
    (in_name, in_spec), = inputs.items()
    outputs = sig.structured_outputs
    out_key = sorted(outputs)[0]
    shape, out = tuple(in_spec.shape), tuple(outputs[out_key].shape)
    if len(shape) != 4 or len(out) != 4 or out[-1] is None:
        raise ExportError(f"{path}: signature {name!r} maps {shape} to {out}; expected NHWC images to "
                          "(N, H, W, classes)")
    if in_spec.dtype != tf.float32:
        raise ExportError(f"{path}: signature {name!r} takes {in_spec.dtype.name}; expected float32 images")
    _check_variables(path, loaded)
    writers = _assigned_layers(sig)
    if writers:
        raise ModelError(f"{path}: the serving function updates variables ({', '.join(writers[:2])}"
                         f"{', ...' if len(writers) > 2 else ''}: BatchNormalization run in training mode), so its "
                         "outputs depend on the batch; convert the .keras file, or export with an endpoint calling "
                         "model(x, training=False) (keras.export.ExportArchive)")

    def call(x: Any) -> Any:
        return sig(**{in_name: x})[out_key]

    return ModelSource(path, "SavedModel", "savedmodel", call, (shape[1], shape[2], int(shape[3] or 3)),
                       int(out[-1]), path.name, trackable=loaded, raw_pixels=_graph_rescales(sig, in_name),
                       details={"signature": name, "input": in_name, "output": out_key, "batch_free": shape[0] is None})


def _check_variables(path: Path, loaded: Any) -> None:
    """Variables restored from damaged files may still be unreadable; say so in one line."""
    for v in list(getattr(loaded, "variables", []) or [])[:1]:
        try:
            v.numpy()
        except Exception:  # noqa: BLE001 - uninitialised / unreadable variables
            raise ModelError(f"{path}: the SavedModel's variables cannot be read (incomplete copy?)") from None


def _assigned_layers(sig: Any) -> list[str]:
    """Layers whose variables the signature's graph writes (e.g. BatchNorm statistics of a keras-hub model
    exported with ``model.export``, whose layers then run in training mode)."""
    gd = sig.graph.as_graph_def()
    names = [node.name.rsplit("/", 1)[0].split("/")[-1] for fn in gd.library.function for node in fn.node_def
             if node.op in ("AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp")]
    return list(dict.fromkeys(names))


_PIXEL_SCOPE = re.compile(r"(^|/)(rescaling|normalization)(_\d+)?/", re.IGNORECASE)


def _graph_rescales(sig: Any, in_name: str) -> str | None:
    """The scope of a Rescaling/Normalization layer that directly consumes the signature's image input."""
    gd = sig.graph.as_graph_def()
    for fn in gd.library.function:
        args = [a.name for a in fn.signature.input_arg]
        if in_name not in args:
            continue
        for node in fn.node_def:
            if any(i.split(":")[0] == in_name for i in node.input) and node.op not in ("Shape", "Identity"):
                m = _PIXEL_SCOPE.search(node.name)
                if m:
                    return node.name.rsplit("/", 1)[0]
    return None


def source_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a model file, or of a SavedModel folder's files (relative path + bytes, sorted)."""
    import hashlib

    from edgeseg.core.fileio import sha256_file

    p = Path(path)
    if not p.is_dir():
        return sha256_file(p)
    h = hashlib.sha256()
    for f in sorted(q for q in p.rglob("*") if q.is_file()):
        h.update(str(f.relative_to(p)).encode() + b"\0" + sha256_file(f).encode())
    return h.hexdigest()
