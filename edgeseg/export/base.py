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


class Exporter(abc.ABC):
    """One artifact kind (format x precision). Subclasses set the class attributes below.

    Attributes:
        name: Target name used by ``convert_model`` and the CLI (e.g. ``int8``, ``onnx-fp16``).
        format: ``tflite`` or ``onnx``.
        precision: ``fp32``, ``fp16``, ``dynamic_int8``, ``int8``, ``int16x8``.
        suffix: Appended to the model stem to name the artifact.
        needs_calibration: Whether :attr:`ExportContext.calibration` must be set.
        quantized: Whether activations are integer (parity judged by agreement/mIoU, not logits).
        min_agreement: Expected argmax agreement with Keras in percent (``None``: no expectation).
    """

    name: str = ""
    format: str = ""
    precision: str = ""
    suffix: str = ""
    needs_calibration: bool = False
    quantized: bool = False
    min_agreement: float | None = None

    def filename(self, stem: str) -> str:
        """The artifact's file name for a model stem."""
        return f"{stem}{self.suffix}"

    @abc.abstractmethod
    def export(self, graph: Any, out_path: Path, ctx: ExportContext) -> ArtifactInfo:
        """Convert ``graph`` (an :class:`~edgeseg.export.graph.ExportGraph`: static shape, head applied, from any
        model source; a prepared tf_keras model is accepted too) and write ``out_path`` atomically."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
