"""Image + label-map folders paired by file stem, read with Pillow (no TensorFlow)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from edgeseg.core.spec import Spec
from edgeseg.errors import DataError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
MASK_EXTS = (".png", ".bmp")
_IMAGE_MODES_OK = ("RGB",)
_MASK_INDEX_MODES = ("L", "P")


@dataclass(frozen=True)
class Sample:
    """One image and its label map."""

    stem: str
    image: Path
    mask: Path | None


def _list(folder: Path, exts: tuple[str, ...], problems: list[str] | None = None) -> dict[str, Path]:
    """Files of ``folder`` by stem; each problem raises, or is appended to ``problems`` (file skipped)."""
    out: dict[str, Path] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or not entry.is_file():
            continue
        msg = None
        if entry.suffix.lower() not in exts:
            if exts == MASK_EXTS and entry.suffix.lower() in IMAGE_EXTS:
                msg = f"{entry}: masks must be lossless PNG/BMP (JPEG compression changes label values)"
            else:
                msg = f"{entry}: not an image file (expected {', '.join(exts)})"
        elif entry.stem in out:
            msg = f"{entry}: two files share the stem {entry.stem!r} (the other is {out[entry.stem].name})"
        if msg is None:
            out[entry.stem] = entry
        elif problems is None:
            raise DataError(msg)
        else:
            problems.append(msg)
    return out


def _pillow():  # imported lazily: core stays importable without Pillow for metric-only users
    from PIL import Image, UnidentifiedImageError

    return Image, UnidentifiedImageError


class FolderDataset:
    """Images and masks in two folders, paired by file stem.

    Masks are index PNGs (mode ``L``/``P``: pixel value = class) or RGB colour PNGs mapped
    back through the spec's palette. ``spec.label_remap`` (e.g. pets trimaps ``{1: 0, 2: 1, 3: 2}``)
    is applied to raw values first. Every problem raises :class:`DataError` naming the file, or, when a
    ``problems`` list is given, problems with the folders' files (stray files, unpaired images or masks,
    shared stems) are appended to it one line each and those files left out (``data inspect``).
    """

    def __init__(self, images_dir: str | os.PathLike[str], masks_dir: str | os.PathLike[str] | None,
                 spec: Spec, *, masks_required: bool = True, problems: list[str] | None = None) -> None:
        self.spec = spec
        self.images_dir = Path(images_dir)
        self.masks_dir = Path(masks_dir) if masks_dir is not None else None
        for d in (self.images_dir, self.masks_dir):
            if d is None:
                continue
            if not d.exists():
                raise DataError(f"{d}: no such directory")
            if not d.is_dir():
                raise DataError(f"{d}: is not a directory")
        images = _list(self.images_dir, IMAGE_EXTS, problems)
        if not images:
            raise DataError(f"{self.images_dir}: no images found")
        masks: dict[str, Path] = {}
        if self.masks_dir is not None:
            masks = _list(self.masks_dir, MASK_EXTS, problems)
            unpaired = sorted(set(images) - set(masks)) if masks_required else []
            orphans = sorted(set(masks) - set(images))
            if problems is not None:
                problems += [f"{images[s]}: image has no label map in {self.masks_dir}" for s in unpaired]
                problems += [f"{masks[s]}: label map has no image in {self.images_dir}" for s in orphans]
                images = {k: v for k, v in images.items() if k not in set(unpaired)}
            elif unpaired:
                raise DataError(f"{images[unpaired[0]]}: image has no label map in {self.masks_dir}"
                                + (f" (and {len(unpaired) - 1} more)" if len(unpaired) > 1 else ""))
            elif orphans:
                raise DataError(f"{masks[orphans[0]]}: label map has no image in {self.images_dir}"
                                + (f" (and {len(orphans) - 1} more)" if len(orphans) > 1 else ""))
        elif masks_required:
            raise DataError(f"{self.images_dir}: no label-map folder given")
        self.samples = [Sample(s, images[s], masks.get(s)) for s in sorted(images)]

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        for i in range(len(self)):
            yield self.read(i)

    @property
    def has_masks(self) -> bool:
        """Whether every sample has a label map."""
        return all(s.mask is not None for s in self.samples)

    def subset(self, count: int) -> "FolderDataset":
        """A view on the first ``count`` samples (sorted by stem, so deterministic)."""
        return self._view(self.samples[:count])

    def select(self, keep: Callable[[Sample], bool]) -> "FolderDataset":
        """A view on the samples for which ``keep(sample)`` is true (order kept)."""
        return self._view([s for s in self.samples if keep(s)])

    def sequences(self) -> dict[str, int]:
        """Frame count per sequence (see :func:`sequence_of`), in order of first appearance."""
        counts: dict[str, int] = {}
        for s in self.samples:
            seq = sequence_of(s.stem)
            counts[seq] = counts.get(seq, 0) + 1
        return counts

    def _view(self, samples: list[Sample]) -> "FolderDataset":
        view = object.__new__(FolderDataset)
        view.__dict__.update(self.__dict__)
        view.samples = samples
        return view

    def read_image(self, i: int) -> np.ndarray:
        """``HxWx3`` uint8 RGB pixels of sample ``i``."""
        path = self.samples[i].image
        Image, Unidentified = _pillow()
        try:
            with Image.open(path) as im:
                im.load()
                mode = im.mode
                if mode == "P":
                    im = im.convert("RGB")
                    mode = "RGB"
                if mode not in _IMAGE_MODES_OK:
                    kind = {"L": "grayscale", "LA": "grayscale+alpha", "RGBA": "RGBA (4 channels)",
                            "CMYK": "CMYK"}.get(mode, f"mode {mode}")
                    raise DataError(f"{path}: image is {kind}; edgeseg reads 3-channel RGB images")
                return np.asarray(im, dtype=np.uint8)
        except DataError:
            raise
        except Unidentified:
            raise DataError(f"{path}: not a readable image") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise DataError(f"{path}: unreadable or truncated image ({exc})") from None

    def read_mask(self, i: int) -> np.ndarray:
        """``HxW`` uint8 class indices of sample ``i`` (void kept as the void index)."""
        path = self.samples[i].mask
        if path is None:
            raise DataError(f"{self.samples[i].image}: image has no label map")
        Image, Unidentified = _pillow()
        try:
            with Image.open(path) as im:
                im.load()
                if im.mode in _MASK_INDEX_MODES:
                    raw = np.asarray(im)
                    labels = self._remap(raw, path)
                elif im.mode == "RGB":
                    labels = self._from_colours(np.asarray(im), path)
                elif im.mode in ("I;16", "I;16B", "I;16L", "I"):
                    raise DataError(f"{path}: 16/32-bit label map; save masks as 8-bit index PNGs")
                else:
                    raise DataError(f"{path}: label map of mode {im.mode}; expected 8-bit index or RGB PNG")
        except DataError:
            raise
        except Unidentified:
            raise DataError(f"{path}: not a readable image") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise DataError(f"{path}: unreadable or truncated label map ({exc})") from None
        self._check_values(labels, path)
        return labels

    def read(self, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Image and label map of sample ``i``; checks that their sizes agree."""
        image = self.read_image(i)
        if self.samples[i].mask is None:
            return image, None
        mask = self.read_mask(i)
        if mask.shape != image.shape[:2]:
            raise DataError(f"{self.samples[i].mask}: label map is {mask.shape[1]}x{mask.shape[0]} but its "
                            f"image is {image.shape[1]}x{image.shape[0]}")
        return image, mask

    def _remap(self, raw: np.ndarray, path: Path) -> np.ndarray:
        remap = self.spec.label_remap
        if not remap:
            return raw.astype(np.uint8, copy=False)
        lut = np.arange(256, dtype=np.int64)
        for k, v in remap.items():
            lut[k] = v
        return lut[raw].astype(np.uint8)

    def _from_colours(self, rgb: np.ndarray, path: Path) -> np.ndarray:
        if not self.spec.palette:
            raise DataError(f"{path}: RGB label map but the spec has no palette to map colours")
        key = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
        colours = {(c[0] << 16) | (c[1] << 8) | c[2]: i for i, c in enumerate(self.spec.palette)}
        uniq, inverse = np.unique(key, return_inverse=True)
        lut = np.empty(len(uniq), dtype=np.uint8)
        for j, k in enumerate(uniq):
            if int(k) not in colours:
                r, g, b = (int(k) >> 16) & 255, (int(k) >> 8) & 255, int(k) & 255
                raise DataError(f"{path}: colour ({r},{g},{b}) is not in the {self.spec.name} palette")
            lut[j] = colours[int(k)]
        return lut[inverse].reshape(key.shape)

    def _check_values(self, labels: np.ndarray, path: Path) -> None:
        n = self.spec.num_classes
        bad = labels >= n
        if self.spec.void_index is not None:
            bad &= labels != self.spec.void_index
        if bad.any():
            v = int(labels[bad][0])
            void = f" and not void ({self.spec.void_index})" if self.spec.void_index is not None else ""
            raise DataError(f"{path}: label value {v} is outside classes 0..{n - 1}{void}")


def resolve_dataset(ref: str | os.PathLike[str] | None, spec: Spec, *, split: str | None = None,
                    images: str | os.PathLike[str] | None = None,
                    masks: str | os.PathLike[str] | None = None,
                    masks_required: bool = True, problems: list[str] | None = None) -> FolderDataset:
    """Open a dataset reference in any of the accepted layouts.

    Accepted: ``ref`` with ``images/`` and ``masks/``; ``ref`` in the SegNet layout
    (``<split>/`` + ``<split>annot/``, ``split`` chosen by the caller); or explicit
    ``images`` + ``masks`` folders (``ref`` ``None``). ``problems``: see :class:`FolderDataset`.
    """
    if images is not None:
        if ref is not None:
            raise DataError("give either a dataset folder or --images/--masks, not both")
        return FolderDataset(images, masks, spec, masks_required=masks_required, problems=problems)
    if ref is None:
        raise DataError("no dataset given (a folder, or --images DIR --masks DIR)")
    root = Path(ref)
    if not root.exists():
        raise DataError(f"{root}: no such dataset folder")
    if not root.is_dir():
        raise DataError(f"{root}: is not a directory")
    if split is None and (root / "images").is_dir():
        m = root / "masks"
        return FolderDataset(root / "images", m if m.is_dir() else None, spec, masks_required=masks_required,
                             problems=problems)
    splits = sorted(p.name for p in root.iterdir() if p.is_dir() and (root / f"{p.name}annot").is_dir())
    if split is None:
        if len(splits) == 1:
            split = splits[0]
        elif splits:
            raise DataError(f"{root}: SegNet-layout dataset with splits {', '.join(splits)}; choose one with --split")
        else:
            raise DataError(f"{root}: no images/ + masks/ folders and no <split>/ + <split>annot/ folders")
    if not (root / split).is_dir():
        known = f" (found: {', '.join(splits)})" if splits else ""
        raise DataError(f"{root}: no split {split!r}{known}")
    ann = root / f"{split}annot"
    return FolderDataset(root / split, ann if ann.is_dir() else None, spec, masks_required=masks_required,
                         problems=problems)


def sequence_of(stem: str) -> str:
    """The sequence a frame belongs to: the file stem before its last ``_`` (CamVid:
    ``0016E5_07959`` -> ``0016E5``), or the whole stem when it has no ``_``."""
    head, sep, _ = stem.rpartition("_")
    return head if sep and head else stem


def concat_datasets(parts: Iterable[FolderDataset]) -> FolderDataset:
    """One dataset over the samples of ``parts`` in order (e.g. ``--split train,val``).

    Raises:
        DataError: Two parts hold a frame of the same stem (it would be trained or scored twice).
    """
    parts = list(parts)
    if not parts:
        raise DataError("no dataset parts given")
    seen: dict[str, Path] = {}
    for part in parts:
        for s in part.samples:
            if s.stem in seen:
                raise DataError(f"{s.image}: the stem {s.stem!r} is also {seen[s.stem]}")
            seen[s.stem] = s.image
    return parts[0]._view([s for part in parts for s in part.samples])


def only_sequences(ds: FolderDataset, prefixes: str | Iterable[str]) -> FolderDataset:
    """The frames of ``ds`` whose stem starts with one of ``prefixes`` (``"A,B"`` or a list).

    Raises:
        DataError: A prefix matches no frame.
    """
    items = prefixes.split(",") if isinstance(prefixes, str) else prefixes
    return hold_out(ds, items, keep_nothing_ok=True, what="sequence prefix")[1]


def hold_out(ds: FolderDataset, prefixes: Iterable[str], *, keep_nothing_ok: bool = False,
             what: str = "hold-out prefix") -> tuple[FolderDataset, FolderDataset]:
    """Split ``ds`` into (kept, held out): frames whose stem starts with one of ``prefixes`` (whole
    sequences, e.g. ``0001TP``) are held out.

    Raises:
        DataError: A prefix matches no frame, or nothing would be left to train on (unless
            ``keep_nothing_ok``).
    """
    prefixes = tuple(p for p in (p.strip() for p in prefixes) if p)
    if not prefixes:
        raise DataError("no hold-out prefix given")
    for p in prefixes:
        if not any(s.stem.startswith(p) for s in ds.samples):
            known = ", ".join(ds.sequences())
            raise DataError(f"{what} {p!r} matches no frame (sequences here: {known})")
    held = ds.select(lambda s: s.stem.startswith(prefixes))
    kept = ds.select(lambda s: not s.stem.startswith(prefixes))
    if not len(kept) and not keep_nothing_ok:
        raise DataError(f"holding out {', '.join(prefixes)} leaves no frame to train on")
    return kept, held
