"""The spec of a model without a manifest: ``--classes``/``--labels``, ``--normalize``/``--mean --std``, stated defaults."""

from __future__ import annotations

import colorsys
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeseg.core.presets import CAMVID
from edgeseg.core.spec import Spec
from edgeseg.errors import SpecError, UsageError

#: ``--normalize`` presets: (mean, std) applied to pixels scaled to [0, 1].
NORMALIZATIONS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "unit": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),  # pixels / 255, in [0, 1]
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "symmetric": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),  # [-1, 1]
    "raw": ((0.0, 0.0, 0.0), (1.0 / 255.0,) * 3),  # pixels 0..255 (the model rescales them itself)
}
#: What is assumed when a model without a manifest and without a leading Rescaling layer gets no flag.
DEFAULT_NORMALIZATION = "unit"


@dataclass(frozen=True)
class SpecOptions:
    """The spec flags of ``convert`` (all optional)."""

    classes: str | None = None  # "N" or "a,b,c"
    labels: str | os.PathLike[str] | None = None  # one class name per line
    normalize: str | None = None  # a key of NORMALIZATIONS
    mean: str | None = None  # "m" or "m1,m2,m3" (pixels scaled to [0, 1])
    std: str | None = None

    def any_given(self) -> bool:
        """Whether any flag was given."""
        return any(v is not None for v in (self.classes, self.labels, self.normalize, self.mean, self.std))


def class_names(opts: SpecOptions) -> tuple[str, ...] | None:
    """Class names from ``--classes N|a,b,c`` or ``--labels FILE``; ``None`` if neither was given."""
    if opts.classes is not None and opts.labels is not None:
        raise UsageError("give --classes or --labels, not both")
    if opts.labels is not None:
        try:
            lines = Path(opts.labels).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError(f"{opts.labels}: cannot read the labels file ({getattr(exc, 'strerror', None) or exc})") \
                from None
        names = tuple(ln.strip() for ln in lines if ln.strip())
        if not names:
            raise SpecError(f"{opts.labels}: no class names in the labels file (one per line)")
        return names
    if opts.classes is None:
        return None
    text = str(opts.classes).strip()
    if text.isdigit():
        n = int(text)
        if n < 1:
            raise UsageError(f"--classes must be >= 1, got {text}")
        return tuple(f"class_{i}" for i in range(n))
    names = tuple(p.strip() for p in text.split(","))
    if not all(names):
        raise UsageError(f"--classes takes a count or comma-separated names, got {text!r}")
    return names


def _triple(text: str, flag: str) -> tuple[float, float, float]:
    try:
        vals = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{flag} takes 1 or 3 numbers like 0.5 or 0.485,0.456,0.406, got {text!r}") from None
    if len(vals) == 1:
        vals *= 3
    if len(vals) != 3:
        raise UsageError(f"{flag} takes 1 or 3 numbers, got {text!r}")
    return vals[0], vals[1], vals[2]


def normalization(opts: SpecOptions) -> tuple[str, tuple[float, ...], tuple[float, ...]] | None:
    """``(name, mean, std)`` from ``--normalize`` or ``--mean/--std``; ``None`` if not given."""
    if opts.normalize is not None and (opts.mean is not None or opts.std is not None):
        raise UsageError("give --normalize or --mean/--std, not both")
    if opts.normalize is not None:
        if opts.normalize not in NORMALIZATIONS:
            raise UsageError(f"--normalize must be one of {', '.join(NORMALIZATIONS)}, got {opts.normalize!r}")
        mean, std = NORMALIZATIONS[opts.normalize]
        return opts.normalize, mean, std
    if opts.mean is None and opts.std is None:
        return None
    mean = _triple(opts.mean, "--mean") if opts.mean is not None else (0.0, 0.0, 0.0)
    std = _triple(opts.std, "--std") if opts.std is not None else (1.0, 1.0, 1.0)
    if min(std) <= 0:
        raise UsageError(f"--std must be > 0, got {opts.std}")
    return "custom", mean, std


def palette(n: int) -> tuple[tuple[int, int, int], ...]:
    """``n`` distinct colours (evenly spaced hues, class 0 black: usually background)."""
    out = [(0, 0, 0)]
    for i in range(1, n):
        r, g, b = colorsys.hsv_to_rgb((i - 1) / max(n - 1, 1), 0.8, 0.95 if i % 2 else 0.7)
        out.append((int(r * 255), int(g * 255), int(b * 255)))
    return tuple(out[:n])


def resolve_spec(source: Any, base: Spec | None, opts: SpecOptions) -> tuple[Spec, list[str], dict[str, Any]]:
    """The spec to convert with, the lines saying what was assumed, and the ``spec_source`` manifest record.

    Args:
        source: The :class:`~edgeseg.export.sources.ModelSource` (class count, leading Rescaling layer).
        base: ``--spec``/``--preset`` or the model's manifest spec; ``None`` for a model that came alone.
        opts: The flags.

    Raises:
        SpecError: the class count of the flags/spec differs from the model's output.
    """
    n = source.num_classes
    names = class_names(opts)
    norm = normalization(opts)
    notes: list[str] = []
    record: dict[str, Any] = {}
    if names is not None and len(names) != n:
        raise SpecError(f"{len(names)} classes given but the model outputs {n}")
    if base is None and names is None and n == CAMVID.num_classes and source.flavour == "tf_keras" and norm is None:
        notes.append("no manifest beside the model: assuming the CamVid preset (classes, mean/std)")
        base = CAMVID
        record["classes"] = "camvid preset (assumed: 11 outputs, no manifest)"
    if base is None:
        if names is None:
            names = tuple(f"class_{i}" for i in range(n))
            notes.append(f"assumed {n} classes class_0..class_{n - 1} (name them with --classes a,b,c or --labels "
                         "FILE)")
            record["classes"] = "assumed"
        else:
            record["classes"] = "--labels" if opts.labels is not None else "--classes"
        base = Spec(name=source.path.stem, class_names=names, palette=palette(n),
                    input_size=source.static_size or (256, 256))
        if norm is None:
            if source.raw_pixels:
                norm = ("raw", *NORMALIZATIONS["raw"])
                notes.append(f"input: raw pixels 0..255 (the model starts with {source.raw_pixels!r}, a "
                             "Rescaling/Normalization layer)")
                record["normalization"] = f"raw (detected: {source.raw_pixels})"
            else:
                norm = (DEFAULT_NORMALIZATION, *NORMALIZATIONS[DEFAULT_NORMALIZATION])
                notes.append("assumed input normalisation 'unit' (pixels/255 in [0, 1]); give --normalize "
                             "{unit,imagenet,symmetric,raw} or --mean/--std if the model was trained otherwise")
                record["normalization"] = "unit (assumed)"
        else:
            record["normalization"] = f"{norm[0]} (given)"
    else:
        if base.num_classes != n and names is None:
            raise SpecError(f"the spec has {base.num_classes} classes but the model outputs {n}")
        if names is not None:
            base = base.with_(class_names=names, palette=base.palette if len(base.palette) >= n else palette(n),
                              class_weights=None)
            record["classes"] = "--labels" if opts.labels is not None else "--classes"
        if norm is not None:
            record["normalization"] = f"{norm[0]} (given)"
    if norm is not None:
        base = base.with_(mean=tuple(norm[1]), std=tuple(norm[2]), channel_order="RGB")
        record.setdefault("normalization_name", norm[0])
    return base, notes, record
