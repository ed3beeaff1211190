"""Calibration/verification frames: real images read and preprocessed exactly as in training (numpy only)."""

from __future__ import annotations

import logging
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import numpy as np

from edgeseg.core.dataset import FolderDataset, concat_datasets, hold_out, resolve_dataset
from edgeseg.core.manifest import Manifest
from edgeseg.core.preprocess import preprocess, resize_nearest, to_channels
from edgeseg.core.spec import Spec
from edgeseg.errors import DataError

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Threads decoding + resizing frames (PIL decoding and numpy release the GIL) and frames read ahead.
READ_THREADS = 2
READ_AHEAD = 8


def prefetched(fn: Callable[[int], T], n: int, threads: int = READ_THREADS, ahead: int = READ_AHEAD) -> Iterator[T]:
    """``fn(0), ..., fn(n - 1)`` in order, computed by a thread pool at most ``ahead`` items early."""
    if n <= 1 or threads <= 1:
        yield from (fn(i) for i in range(n))
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="edgeseg-read") as pool:
        pending: deque = deque()
        for i in range(n):
            pending.append(pool.submit(fn, i))
            if len(pending) > ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

NO_CALIBRATION_HELP = ("give calibration images with --calib-data DATASET (a folder of images, images/ + masks/, "
                       "or a SegNet-layout dataset); they are read as in training")


class CalibrationSet:
    """Up to ``count`` frames of a dataset, spread evenly over its sorted samples (deterministic).

    Iterating yields preprocessed float32 ``(1, H, W, 3)`` arrays; :meth:`pairs` also yields the
    label map resized (nearest) to the input size when the dataset has masks.
    """

    def __init__(self, dataset: FolderDataset, spec: Spec, input_size: tuple[int, int], count: int,
                 channels: int = 3) -> None:
        if count < 1:
            raise DataError(f"calibration count must be >= 1, got {count}")
        self.dataset, self.spec, self.input_size = dataset, spec, tuple(input_size)
        self.channels = channels  # 1: frames are read as grayscale (luminance)
        self.use_masks = True  # False: label maps are not read (they belong to another class list)
        n = len(dataset)
        take = min(count, n)
        self.indices = sorted({int(round(i)) for i in np.linspace(0, n - 1, take)}) if take > 1 else [0]
        self.source = str(dataset.images_dir)

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def has_masks(self) -> bool:
        """Whether every selected frame has a label map."""
        return self.use_masks and all(self.dataset.samples[i].mask is not None for i in self.indices)

    def frame(self, i: int) -> np.ndarray:
        """Preprocessed ``(1, H, W, 3)`` float32 input of the ``i``-th selected sample."""
        image = to_channels(self.dataset.read_image(self.indices[i]), self.channels)
        return preprocess(image, self.spec, self.input_size)[None]  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[np.ndarray]:
        return prefetched(self.frame, len(self))

    def pair(self, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        """``(frame, labels)`` of the ``i``-th selected sample; labels ``None`` without a mask."""
        j = self.indices[i]
        image, mask = self.dataset.read(j) if self.use_masks and self.dataset.samples[j].mask is not None else \
            (self.dataset.read_image(j), None)
        x = preprocess(to_channels(image, self.channels), self.spec, self.input_size)[None]  # type: ignore[arg-type]
        return x, None if mask is None else resize_nearest(mask, self.input_size)  # type: ignore[arg-type]

    def pairs(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """``(frame, labels)`` in order (read ahead by a thread pool); labels ``None`` without masks."""
        return prefetched(self.pair, len(self))

    def subset(self, count: int) -> "CalibrationSet":
        """A set over the same dataset with at most ``count`` frames."""
        return CalibrationSet(self.dataset, self.spec, self.input_size, count, self.channels)

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary for manifests: source folder, frame count, stems."""
        return {"source": self.source, "images": len(self),
                "first": self.dataset.samples[self.indices[0]].stem,
                "last": self.dataset.samples[self.indices[-1]].stem}


def open_dataset(ref: str | os.PathLike[str] | FolderDataset, spec: Spec, *,
                 prefer_split: str = "train") -> FolderDataset:
    """A dataset from a folder: ``images/`` (+ ``masks/``), a SegNet layout (``prefer_split`` first), or a
    plain folder of images."""
    if isinstance(ref, FolderDataset):
        return ref
    root = Path(ref)
    if not root.exists():
        raise DataError(f"{root}: no such dataset folder")
    if (root / prefer_split).is_dir() and (root / "images").is_dir() is False:
        return resolve_dataset(root, spec, split=prefer_split, masks_required=False)
    try:
        return resolve_dataset(root, spec, masks_required=False)
    except DataError:
        if root.is_dir() and any(p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp") for p in root.iterdir()):
            return FolderDataset(root, None, spec, masks_required=False)
        raise


def _splits(path: str, spec: Spec, names: str) -> FolderDataset:
    """``names`` = ``"train"``, ``"train,val"`` or ``""`` (the folder's only layout) as one dataset."""
    parts = [resolve_dataset(path, spec, split=n.strip() or None, masks_required=False) for n in names.split(",")]
    return concat_datasets(parts)


def dataset_from_manifest(manifest: Manifest | None, spec: Spec, *, split: str | None = None) -> FolderDataset | None:
    """The dataset a manifest's ``dataset`` section records (``path`` + ``split``, or ``images``/``masks``);
    ``None`` if it records none or the folders are gone."""
    if manifest is None:
        return None
    ds = manifest.get("dataset")
    if not isinstance(ds, dict):
        return None
    try:
        if ds.get("images"):
            return resolve_dataset(None, spec, images=ds["images"], masks=ds.get("masks"), masks_required=False)
        if ds.get("path"):
            recorded, holdout = str(ds.get("split") or ""), ds.get("val_holdout")
            if holdout and split in (None, "val"):  # the run validated on sequences held out of its splits:
                # calibration gets the frames it trained on, verification the held-out ones
                kept, held = hold_out(_splits(ds["path"], spec, recorded), str(holdout).split(","))
                return held if split == "val" else kept
            return _splits(ds["path"], spec, split or recorded)
    except DataError as exc:
        log.warning("dataset recorded in the manifest is not usable: %s", exc)
    return None


def calibration_set(calib: str | os.PathLike[str] | FolderDataset | None, manifest: Manifest | None, spec: Spec,
                    input_size: tuple[int, int], count: int, channels: int = 3) -> CalibrationSet | None:
    """Calibration frames from ``calib``, else from the manifest's training dataset, else ``None``
    (``channels=1``: read as grayscale)."""
    if calib is not None:
        return CalibrationSet(open_dataset(calib, spec), spec, input_size, count, channels)
    ds = dataset_from_manifest(manifest, spec)
    return CalibrationSet(ds, spec, input_size, count, channels) if ds is not None else None


def verification_set(data: str | os.PathLike[str] | FolderDataset | None, manifest: Manifest | None, spec: Spec,
                     input_size: tuple[int, int], calibration: CalibrationSet | None,
                     count: int = 50, channels: int = 3) -> CalibrationSet | None:
    """Up to ``count`` frames for parity checks: ``data``; else the manifest dataset's ``val`` split;
    else the calibration set; else ``None``."""
    if data is not None:
        return CalibrationSet(open_dataset(data, spec, prefer_split="val"), spec, input_size, count, channels)
    ds = dataset_from_manifest(manifest, spec, split="val")
    if ds is not None:
        return CalibrationSet(ds, spec, input_size, count, channels)
    return calibration.subset(count) if calibration is not None else None
