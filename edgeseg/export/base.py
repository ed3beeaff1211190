"""The one Exporter interface, the context every exporter receives, and what it returns."""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from edgeseg.core.spec import Spec

IO_TYPES = ("float", "uint8", "int8")
HEADS = ("logits", "softmax", "argmax")
CALIB_METHODS = ("minmax", "entropy", "percentile")


@dataclass(frozen=True)
class ExportContext:
    """Everything an exporter may need besides the Keras model.

    Attributes:
        spec: Classes and normalisation of the model.
        input_size: Static ``(height, width)`` of the exported graph (batch 1).
        io: Integer I/O type of full-integer artifacts (``float`` keeps float32 I/O).
        head: ``logits``, ``softmax`` or ``argmax`` (already built into the Keras model).
        calibration: Factory of an iterator over preprocessed ``(1, H, W, 3)`` float32 frames,
            ``None`` when no calibration data was given.
        calib_count: Number of frames the calibration iterator yields.
        calib_method: ONNX calibration: ``minmax``, ``entropy`` or ``percentile``.
        work_dir: A private scratch folder (removed after the conversion).
    """

    spec: Spec
    input_size: tuple[int, int]
    io: str = "float"
    head: str = "logits"
    calibration: Callable[[], Iterator[np.ndarray]] | None = None
    calib_count: int = 0
    calib_method: str = "minmax"
    work_dir: Path = Path(".")


@dataclass
class ArtifactInfo:
    """What an exporter wrote (the table row / JSON entry before parity is added)."""

    path: Path
    format: str
    precision: str
    size_bytes: int
    input: dict[str, Any]
    output: dict[str, Any]
    ops: list[str] = field(default_factory=list)
    quantization: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["path"] = str(self.path)
        return d


@dataclass(frozen=True)
class ParityLimits:
    """The parity a correct artifact of one exporter reaches on the test model, with a margin.

    Checked by the parametrised tests of every registered target (tests/export/test_convert_targets.py) on
    the tiny untrained 2-level model, 64x64, 11 sample frames. Not a promise for real models (their logits
    are larger): :attr:`Exporter.min_agreement` is what ``convert`` judges artifacts by.

    Attributes:
        agreement_pct: Lowest argmax agreement with Keras, in percent.
        max_abs_diff: Largest allowed max |logit difference|.
        mean_abs_diff: Largest allowed mean |logit difference|.
    """

    agreement_pct: float
    max_abs_diff: float
    mean_abs_diff: float


class Exporter(abc.ABC):
    """One artifact kind (format x precision), and its only description: the CLI flag, ``--all``, the guard
    and the tests are all derived from the registered instances' attributes (docs/extending.md).

    Attributes:
        name: Target name used by ``convert_model`` and the CLI (e.g. ``int8``, ``onnx-fp16``); the
            ``convert`` flag is ``--<name>``.
        format: ``tflite`` or ``onnx`` (the file format, as ``runtime.load`` sniffs it).
        precision: ``fp32``, ``fp16``, ``dynamic_int8``, ``int8``, ``int16x8``.
        suffix: Appended to the model stem to name the artifact.
        summary: What the flag's help says after the file name (``fp16 weights``); ``calibrated`` is added
            for exporters that need calibration.
        needs_calibration: Whether :attr:`ExportContext.calibration` must be set.
        quantized: Whether activations are integer (parity judged by agreement/mIoU, not logits).
        min_agreement: Expected argmax agreement with Keras in percent (``None``: no expectation); an
            artifact below it fails parity (``convert --strict`` exits 1).
        guard_strategy: ``"module:function"`` building the accuracy guard's candidates for this target
            (``--max-miou-drop``; see :mod:`edgeseg.export.guard`), ``None`` if the guard cannot re-quantise it.
        test_parity: What the tests hold a conversion of the test model to (:class:`ParityLimits`).
    """

    name: str = ""
    format: str = ""
    precision: str = ""
    suffix: str = ""
    summary: str = ""
    needs_calibration: bool = False
    quantized: bool = False
    min_agreement: float | None = None
    guard_strategy: str | None = None
    test_parity: ParityLimits | None = None

    def __init__(self, **described: Any) -> None:
        """Set any of the class attributes above for this instance (one registry line per target)."""
        for key, value in described.items():
            if key not in Exporter.__annotations__:
                raise TypeError(f"{type(self).__name__}: no exporter attribute {key!r}")
            setattr(self, key, value)

    @property
    def flag(self) -> str:
        """The ``edgeseg convert`` flag asking for this target."""
        return f"--{self.name}"

    @property
    def dest(self) -> str:
        """The flag's attribute on the parsed ``argparse`` namespace."""
        return self.name.replace("-", "_")

    @property
    def help(self) -> str:
        """The flag's help: the file it writes and, in brackets, what is special about it."""
        notes = [n for n in (self.summary, "calibrated" if self.needs_calibration else "") if n]
        return f"<stem>{self.suffix}" + (f" ({', '.join(notes)})" if notes else "")

    def filename(self, stem: str) -> str:
        """The artifact's file name for a model stem."""
        return f"{stem}{self.suffix}"

    @abc.abstractmethod
    def export(self, graph: Any, out_path: Path, ctx: ExportContext) -> ArtifactInfo:
        """Convert ``graph`` (an :class:`~edgeseg.export.graph.ExportGraph`: static shape, head applied, from any
        model source; a prepared tf_keras model is accepted too) and write ``out_path`` atomically."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
