"""The model zoo registry: architecture name -> builder, its paper facts, options and stride."""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from edgeseg.errors import SpecError

# One line per architecture: the module in edgeseg.models that registers it on import.
# Modules are imported on first use, so ``import edgeseg.models`` does not load TensorFlow.
ARCHITECTURE_MODULES: tuple[str, ...] = (
    "unet",
    "enet",
    "linknet",
    "deeplabv3plus",
    "pspnet",
    "fcn8s",
    "segnet",
    "rtseg",
)

Builder = Callable[..., Any]
StrideFn = Callable[[Mapping[str, Any]], int]


@dataclass(frozen=True)
class ModelInfo:
    """What the zoo knows about one architecture.

    Attributes:
        name: Registry name, also the built model's ``name``.
        output_stride: The multiple both input sides must be, with the default options
            (see :func:`input_multiple` for other options).
        description: One line: what the architecture is.
        paper: Citation of the paper the builder follows.
        deviations: What differs from the paper, and why.
        default_options: Every accepted option with its default value.
        choices: Allowed values of the enumerated (string) options.
    """

    name: str
    output_stride: int
    description: str
    paper: str
    deviations: str
    default_options: Mapping[str, Any] = field(default_factory=dict)
    choices: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "name": self.name,
            "output_stride": self.output_stride,
            "description": self.description,
            "paper": self.paper,
            "deviations": self.deviations,
            "default_options": {k: list(v) if isinstance(v, tuple) else v for k, v in self.default_options.items()},
            "choices": {k: list(v) for k, v in self.choices.items()},
        }


@dataclass(frozen=True)
class _Entry:
    info: ModelInfo
    builder: Builder
    stride_fn: StrideFn


_REGISTRY: dict[str, _Entry] = {}
_loaded = False


def register(*, name: str, description: str, paper: str, deviations: str,
             options: Mapping[str, Any], choices: Mapping[str, tuple[Any, ...]] | None = None,
             stride: int | StrideFn) -> Callable[[Builder], Builder]:
    """Decorator that registers ``builder(inputs, num_classes, **options) -> logits tensor``.

    Args:
        name: Registry name.
        description: One line.
        paper: Citation.
        deviations: Differences from the paper.
        options: Option names and defaults; ``build`` rejects any other name.
        choices: Allowed values for enumerated options.
        stride: The input multiple, or a function of the (complete) options returning it.
    """
    stride_fn: StrideFn = stride if callable(stride) else (lambda _opts, s=int(stride): s)

    def deco(builder: Builder) -> Builder:
        info = ModelInfo(name=name, output_stride=int(stride_fn(dict(options))), description=description,
                         paper=paper, deviations=" ".join(deviations.split()),
                         default_options=dict(options), choices=dict(choices or {}))
        _REGISTRY[name] = _Entry(info, builder, stride_fn)
        return builder

    return deco


def _load() -> None:
    global _loaded
    if not _loaded:
        for mod in ARCHITECTURE_MODULES:
            importlib.import_module(f"edgeseg.models.{mod}")
        _loaded = True


def _entry(name: str) -> _Entry:
    _load()
    key = str(name).lower().replace("-", "_")
    if key not in _REGISTRY:
        raise SpecError(f"unknown model {name!r} (known: {', '.join(sorted(_REGISTRY))})")
    return _REGISTRY[key]


def list_models() -> list[str]:
    """Registered architecture names, in registry order."""
    _load()
    return list(_REGISTRY)


def get_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of one architecture; :class:`SpecError` if unknown."""
    return _entry(name).info


def resolve_options(name: str, **options: Any) -> dict[str, Any]:
    """Defaults updated with ``options``, type-checked; :class:`SpecError` on unknown or bad values."""
    info = _entry(name).info
    out = dict(info.default_options)
    for key, value in options.items():
        if key not in out:
            known = ", ".join(sorted(out)) or "none"
            raise SpecError(f"{info.name}: unknown option {key!r} (options: {known})")
        out[key] = _coerce(info, key, value, out[key])
    return out


def _coerce(info: ModelInfo, key: str, value: Any, default: Any) -> Any:
    where = f"{info.name}: option {key}"
    if key in info.choices:
        if value not in info.choices[key]:
            allowed = ", ".join(repr(c) for c in info.choices[key])
            raise SpecError(f"{where} must be one of {allowed}, got {value!r}")
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise SpecError(f"{where} must be true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SpecError(f"{where} must be a positive integer, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise SpecError(f"{where} must be a non-negative number, got {value!r}")
        return float(value)
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or not value or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
            raise SpecError(f"{where} must be a list of positive integers, got {value!r}")
        return tuple(value)
    return value


def input_multiple(name: str, **options: Any) -> int:
    """The multiple both input sides must be for ``name`` built with ``options``."""
    entry = _entry(name)
    return int(entry.stride_fn(resolve_options(name, **options)))


def round_up_size(size: tuple[int, int], multiple: int) -> tuple[int, int]:
    """``(h, w)`` rounded up to the next multiple of ``multiple`` (unchanged when already one)."""
    return tuple(-(-int(s) // multiple) * multiple for s in size)  # type: ignore[return-value]


def _input_shape(name: str, input_shape: Any) -> tuple[int, int, int]:
    try:
        dims = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise SpecError(f"{name}: input shape must be (height, width[, channels]), got {input_shape!r}") from None
    if len(dims) == 2:
        dims = dims + (3,)
    if len(dims) != 3 or min(dims) < 1:
        raise SpecError(f"{name}: input shape must be (height, width[, channels]) of positive sizes, "
                        f"got {input_shape!r}")
    return dims  # type: ignore[return-value]


def build(name: str, num_classes: int, input_shape: Any, *, batch_size: int | None = None, **options: Any) -> Any:
    """Build a fresh, randomly initialised tf_keras model.

    Args:
        name: Registry name (see :func:`list_models`).
        num_classes: Number of output channels (real classes; void is not a class).
        input_shape: ``(height, width)`` or ``(height, width, channels)``; both sides must be
            multiples of the architecture's input multiple (:func:`input_multiple`).
        batch_size: Fixed batch dimension of the input, or ``None`` for a free one.
        **options: Architecture options (see ``get_info(name).default_options``).

    Returns:
        A ``keras.Model`` named ``name``: float32 NHWC input (already normalised by the spec),
        per-pixel logits ``(batch, height, width, num_classes)``.

    Raises:
        SpecError: Unknown name or option, bad option value, or a size that is not a multiple.
    """
    entry = _entry(name)
    info = entry.info
    opts = resolve_options(info.name, **options)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise SpecError(f"{info.name}: number of classes must be a positive integer, got {num_classes!r}")
    h, w, c = _input_shape(info.name, input_shape)
    mult = int(entry.stride_fn(opts))
    if h % mult or w % mult:
        rh, rw = round_up_size((h, w), mult)
        raise SpecError(f"{info.name}: input {h}x{w} is not a multiple of {mult} in both sides "
                        f"(e.g. use {rh}x{rw})")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise SpecError(f"{info.name}: batch size must be a positive integer or None, got {batch_size!r}")
    from edgeseg._keras import keras

    inputs = keras.Input(shape=(h, w, c), batch_size=batch_size, name="image", dtype="float32")
    logits = entry.builder(inputs, num_classes, **opts)
    model = keras.Model(inputs, logits, name=info.name)
    got = tuple(model.output_shape[1:])
    if got != (h, w, num_classes):  # a bug in a builder, not a user error
        raise AssertionError(f"{info.name}: builder produced {got}, expected {(h, w, num_classes)}")
    return model
