"""The typed, versioned description of one training run (``TrainRequest``) and how it ended (``TrainResult``).

The CLI builds a request from its flags; :func:`edgeseg.train.session.train` takes it and returns a result.
The run's manifest stores ``request.to_dict()`` under ``training.request``; ``--resume`` reads it back with
:func:`request_from_training`, which also reads the runs written before the request existed (version 0: the
parsed command-line flags under ``training.args``). Stdlib only: building a request loads no TensorFlow.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeseg.errors import SpecError, UsageError

#: Version of :meth:`TrainRequest.to_dict`; raise it (and teach :func:`_migrate` the old one) on any change that
#: an older reader would misread.
REQUEST_VERSION = 1
Size = tuple[int, int]


@dataclass(frozen=True)
class ModelRequest:
    """Which network: a zoo architecture with builder options, or a starting ``.h5`` (``--from``)."""

    name: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    init: Path | None = None
    qat: bool = False


@dataclass(frozen=True)
class DataRequest:
    """Which frames train and validate, the classes they use, and the size the network sees them at.

    Attributes:
        dataset: A dataset folder (SegNet layout or ``images/`` + ``masks/``); or ``images`` + ``masks``.
        splits: Training split(s) of ``dataset``.
        val_split: Validation split; with no validation (no split, no hold-out) best.h5 is the last epoch.
        val_holdout: File-name prefixes of whole sequences held out of the training frames to validate on.
        preset, spec, label_remap: The classes (see ``edgeseg.core.spec``); ``None`` picks the camvid preset.
        input_size: ``(height, width)`` of the model input; ``None``: the spec's.
        crop: Train on random crops of this size.
        fit: ``resize`` frames to the input size, or ``pad`` native frames to the output stride.
    """

    dataset: Path | None = None
    splits: tuple[str, ...] = ("train",)
    val_split: str | None = None
    val_holdout: tuple[str, ...] = ()
    images: Path | None = None
    masks: Path | None = None
    preset: str | None = None
    spec: Path | None = None
    label_remap: dict[int, int] | None = None
    input_size: Size | None = None
    crop: Size | None = None
    fit: str = "resize"


@dataclass(frozen=True)
class AugmentRequest:
    """Random augmentation (the fields of :class:`edgeseg.data.augment.Augment`); ``enabled=False``: none."""

    enabled: bool = True
    scale: tuple[float, float] = (0.75, 1.5)
    rotation: float = 5.0
    brightness: float = 0.1
    contrast: float = 0.2
    saturation: float = 0.0
    gamma: float = 1.0
    channel_gain: float = 0.0


@dataclass(frozen=True)
class OptimRequest:
    """Optimiser and schedule; ``lr=None``: adam 1e-3, sgd 1e-2, QAT 1e-4."""

    optimizer: str = "adam"
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "poly"
    warmup_epochs: float = 0.0
    ema: float = 0.0


@dataclass(frozen=True)
class TrainRequest:
    """Everything one training run needs, and nothing about how it is shown (progress, verbosity).

    Attributes:
        out: The run folder.
        epochs: Total epochs; ``None``: 100, or 3 with QAT. The one setting a resume may change.
        class_weights: ``none``, ``median``, ``enet``, ``spec`` or ``w1,w2,...``.
        precision: ``auto``, ``fp32``, ``bf16`` or ``fp16``; a stored run holds the one it resolved to.
        jit: ``auto``, ``on`` or ``off`` (XLA for the training step; auto: all of it on a GPU, the loss on a CPU).
        strategy: ``none``, ``mirrored`` or ``multiworker``; ``cpu_replicas`` splits the CPU into N devices.
    """

    out: Path
    model: ModelRequest = field(default_factory=ModelRequest)
    data: DataRequest = field(default_factory=DataRequest)
    augment: AugmentRequest = field(default_factory=AugmentRequest)
    optim: OptimRequest = field(default_factory=OptimRequest)
    loss: str = "ce"
    class_weights: str = "none"
    epochs: int | None = None
    batch_size: int = 8
    steps_per_epoch: int | None = None
    val_every: int = 1
    seed: int | None = None
    precision: str = "auto"
    jit: str = "auto"
    steps_per_execution: int | None = None
    threads: int | None = None
    strategy: str = "none"
    cpu_replicas: int | None = None

    @property
    def total_epochs(self) -> int:
        """``epochs``, or its default (100; 3 for a QAT fine-tune)."""
        return self.epochs or (3 if self.model.qat else 100)

    @property
    def peak_lr(self) -> float:
        """``optim.lr``, or its default for the optimiser (QAT: 1e-4)."""
        return self.optim.lr or (1e-4 if self.model.qat else (1e-3 if self.optim.optimizer == "adam" else 1e-2))

    def check(self, resume: bool = False) -> None:
        """Raise :class:`UsageError` (one line, naming the ``edgeseg train`` flag) for a request that cannot run."""
        m, d = self.model, self.data
        if m.qat and m.init is None and not resume:
            raise UsageError("--qat needs --from MODEL.h5 (the trained float model)")
        if m.name is None and m.init is None:
            raise UsageError("give --model NAME (or --from MODEL.h5)")
        if d.dataset is None and d.images is None:
            raise UsageError("give --data DATASET (or --images DIR --masks DIR)")
        if d.images is not None and d.masks is None:
            raise UsageError("--images needs --masks")
        if d.val_holdout and d.val_split:
            raise UsageError("give --val-split or --val-holdout, not both")
        if d.images is not None and len(d.splits) > 1:
            raise UsageError("--split takes several splits with --data, not with --images/--masks")
        if m.qat and self.precision in ("bf16", "fp16"):
            raise UsageError("--qat trains in fp32 (the fake-quant ops are float32); drop --precision")
        if m.qat and self.optim.ema:
            raise UsageError("--ema is for float training; QAT fine-tunes are too short to average")
        if not 0.0 <= self.optim.ema < 1.0:
            raise UsageError(f"--ema must be in [0, 1), got {self.optim.ema}")
        if self.cpu_replicas is not None and self.cpu_replicas < 1:
            raise UsageError("--cpu-replicas must be >= 1")
        for name in ("threads", "epochs", "batch_size", "steps_per_epoch", "val_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {value}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with ``version``; :meth:`from_dict` reads it back to an equal request."""
        return {"version": REQUEST_VERSION, **_plain(dataclasses.asdict(self))}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainRequest":
        """Read :meth:`to_dict`'s output (of this or an older version)."""
        data = _migrate(dict(data))
        if not data.get("out"):
            raise SpecError("training request: no run folder (out)")
        groups = {"model": ModelRequest, "data": DataRequest, "augment": AugmentRequest, "optim": OptimRequest}
        kwargs = {k: _build(t, data.pop(k, None) or {}) for k, t in groups.items()}
        return _build(cls, data, **kwargs)


@dataclass(frozen=True)
class TrainResult:
    """How a run ended.

    Attributes:
        best_miou: The best validated mIoU (a fraction); NaN without validation (best.h5 is then the last epoch).
        last_loss: Training loss of the last epoch run.
        interrupted: Stopped by Ctrl-C; ``last`` holds the completed epochs, ``--resume`` goes on.
        validated: The run had a validation set (else best.h5 is the last epoch and ``best_miou`` NaN).
    """

    out: Path
    epochs: int
    epochs_done: int
    best_epoch: int | None
    best_miou: float
    last_loss: float
    wall_seconds: float
    interrupted: bool
    best: Path
    last: Path
    validated: bool = True


def request_from_training(training: dict[str, Any]) -> TrainRequest:
    """The request stored in a manifest's ``training`` section: ``request`` (versioned), or for runs written before
    it, ``args`` (the ``edgeseg train`` flags as argparse parsed them; see :mod:`edgeseg.train.legacy_args`)."""
    if "request" in training:
        return TrainRequest.from_dict(training["request"])
    from edgeseg.train.legacy_args import request_from_args

    return request_from_args(training["args"])


_PATHS = {"out", "init", "dataset", "images", "masks", "spec"}
_TUPLES = {"splits", "val_holdout", "input_size", "crop", "scale"}


def _plain(value: Any) -> Any:
    """Paths as strings, tuples as lists, int dict keys as strings: what JSON holds."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value


def _build(cls: type, fields: dict[str, Any], /, **given: Any) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - names)
    if unknown:
        raise SpecError(f"training request: unknown field(s) {', '.join(unknown)} in {cls.__name__}")
    kwargs: dict[str, Any] = {}
    for key, value in fields.items():
        if value is not None and key in _PATHS:
            value = Path(value)
        elif value is not None and key in _TUPLES:
            value = tuple(value)
        elif value is not None and key == "label_remap":
            value = {int(k): int(v) for k, v in value.items()}
        kwargs[key] = value
    return cls(**{**kwargs, **given})


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    """An older version's dict, brought to :data:`REQUEST_VERSION` (there is none older yet)."""
    version = data.pop("version", None)
    if not isinstance(version, int) or version < 1:
        raise SpecError(f"training request: missing or invalid version {version!r}")
    if version > REQUEST_VERSION:
        raise SpecError(f"training request version {version} is newer than this edgeseg reads ({REQUEST_VERSION}); "
                        "upgrade edgeseg to resume this run")
    return data


__all__ = ["REQUEST_VERSION", "TrainRequest", "ModelRequest", "DataRequest", "AugmentRequest", "OptimRequest",
           "TrainResult", "request_from_training"]
