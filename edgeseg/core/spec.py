"""Dataset/model specs: classes, void index, palette, input size and normalisation, as JSON."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from edgeseg.errors import SpecError

CHANNEL_ORDERS = ("RGB", "BGR")


@dataclass(frozen=True)
class Spec:
    """What a model consumes and produces; travels inside every artifact's manifest.

    Attributes:
        name: Dataset/preset name, e.g. ``camvid``.
        class_names: Names of the real classes, index order.
        void_index: Label value ignored by losses and metrics (``None`` if the data has none).
        palette: One RGB triple per class; index ``void_index`` may be given as an extra entry.
        input_size: Model input ``(height, width)``.
        mean: Per-channel mean subtracted from pixels scaled to [0, 1].
        std: Per-channel std the centred pixels are divided by.
        channel_order: ``RGB`` or ``BGR``, the order the model expects.
        class_weights: Optional per-class loss weights (e.g. median frequency).
        label_remap: Optional raw-label -> class-index mapping applied when masks are read.
    """

    name: str
    class_names: tuple[str, ...]
    void_index: int | None = None
    palette: tuple[tuple[int, int, int], ...] = ()
    input_size: tuple[int, int] = (360, 480)
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    channel_order: str = "RGB"
    class_weights: tuple[float, ...] | None = None
    label_remap: dict[int, int] | None = field(default=None, hash=False, compare=True)

    def __post_init__(self) -> None:
        if not self.class_names:
            raise SpecError("spec needs at least one class name")
        n = len(self.class_names)
        if self.void_index is not None and 0 <= self.void_index < n:
            raise SpecError(f"void index {self.void_index} collides with a real class (0..{n - 1})")
        if self.palette and len(self.palette) < n:
            raise SpecError(f"palette has {len(self.palette)} colours for {n} classes")
        if self.channel_order not in CHANNEL_ORDERS:
            raise SpecError(f"channel order must be one of {CHANNEL_ORDERS}, got {self.channel_order!r}")
        if len(self.input_size) != 2 or min(self.input_size) <= 0:
            raise SpecError(f"input size must be two positive integers, got {self.input_size}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise SpecError("mean and std need three values each, std > 0")
        if self.class_weights is not None and len(self.class_weights) != n:
            raise SpecError(f"{len(self.class_weights)} class weights for {n} classes")

    @property
    def num_classes(self) -> int:
        """Number of real classes (void excluded)."""
        return len(self.class_names)

    def colour_of(self, index: int) -> tuple[int, int, int]:
        """RGB colour for a class index or the void index (black if none is given)."""
        if 0 <= index < len(self.palette):
            return tuple(self.palette[index])  # type: ignore[return-value]
        return (0, 0, 0)

    def palette_array(self) -> "list[list[int]]":
        """A 256-entry palette (class colours, then black) for PNG palettes and overlays."""
        out = [list(self.colour_of(i)) for i in range(256)]
        return out

    def with_(self, **changes: Any) -> "Spec":
        """A copy with some fields replaced (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = dataclasses.asdict(self)
        d["class_names"] = list(self.class_names)
        d["palette"] = [list(c) for c in self.palette]
        d["input_size"] = list(self.input_size)
        d["mean"] = list(self.mean)
        d["std"] = list(self.std)
        d["class_weights"] = list(self.class_weights) if self.class_weights is not None else None
        d["label_remap"] = (
            {str(k): v for k, v in self.label_remap.items()} if self.label_remap is not None else None
        )
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Spec":
        """Inverse of :meth:`to_dict`; raises :class:`SpecError` on bad content."""
        try:
            remap = d.get("label_remap")
            return cls(
                name=str(d["name"]),
                class_names=tuple(str(c) for c in d["class_names"]),
                void_index=None if d.get("void_index") is None else int(d["void_index"]),
                palette=tuple(tuple(int(v) for v in c) for c in d.get("palette", ())),  # type: ignore[misc]
                input_size=tuple(int(v) for v in d.get("input_size", (360, 480))),  # type: ignore[arg-type]
                mean=tuple(float(v) for v in d.get("mean", (0.0, 0.0, 0.0))),  # type: ignore[arg-type]
                std=tuple(float(v) for v in d.get("std", (1.0, 1.0, 1.0))),  # type: ignore[arg-type]
                channel_order=str(d.get("channel_order", "RGB")),
                class_weights=(
                    None if d.get("class_weights") is None else tuple(float(v) for v in d["class_weights"])
                ),
                label_remap=None if remap is None else {int(k): int(v) for k, v in remap.items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SpecError(f"invalid spec: {exc!r}") from None

    def to_json(self) -> str:
        """Compact, key-sorted JSON (stable across runs)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Spec":
        """Parse :meth:`to_json` output."""
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise SpecError(f"spec is not valid JSON: {exc.msg}") from None


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``HxW`` (e.g. ``360x480``) into ``(height, width)``."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SpecError(f"input size must look like HxW (e.g. 360x480), got {text!r}") from None
    if h <= 0 or w <= 0:
        raise SpecError(f"input size must be positive, got {text!r}")
    return h, w
