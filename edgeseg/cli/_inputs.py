"""``predict``'s inputs: files and folders -> image files, saying what was skipped and why."""

from __future__ import annotations

from pathlib import Path

from edgeseg.errors import DataError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
#: Upscaling beyond this factor (either side) gets a note: the model sees mostly interpolated pixels.
UPSCALE_NOTE = 4.0


def _is_image(p: Path) -> bool:
    return p.suffix.lower() in IMAGE_EXTS and not p.name.startswith(".")


def _folder(d: Path, recursive: bool, notes: list[str]) -> list[Path]:
    entries = sorted(d.rglob("*") if recursive else d.iterdir())
    images = [p for p in entries if p.is_file() and _is_image(p)]
    others = [p for p in entries if p.is_file() and not _is_image(p) and not p.name.startswith(".")]
    if others:
        names = ", ".join(p.name for p in others[:3]) + (", ..." if len(others) > 3 else "")
        notes.append(f"note: {d}: skipped {len(others)} non-image file(s) ({names}; images are "
                     f"{', '.join(IMAGE_EXTS)})")
    subs = [] if recursive else [p for p in entries if p.is_dir() and not p.name.startswith(".")]
    with_images = [s for s in subs if any(_is_image(f) for f in s.rglob("*"))]
    if not images and with_images:
        names = ", ".join(s.name for s in with_images[:6]) + (", ..." if len(with_images) > 6 else "")
        raise DataError(f"{d}: no images directly in it, but in its subfolders {names}; name one "
                        f"(e.g. {with_images[0]}) or add --recursive (label-map folders would be segmented too)")
    if with_images:
        notes.append(f"note: {d}: skipped {len(with_images)} subfolder(s) with images "
                     f"({', '.join(s.name for s in with_images[:6])}); --recursive includes them")
    return images


def expand_images(paths: list[Path], recursive: bool = False) -> tuple[list[Path], list[str]]:
    """Image files named by ``paths`` (files, or folders: their images, all levels with ``recursive``), and
    notes on what was skipped.

    Raises:
        DataError: a path does not exist, nothing is left, or two images share a stem (outputs would collide).
    """
    out: list[Path] = []
    notes: list[str] = []
    for p in paths:
        if p.is_dir():
            out.extend(_folder(p, recursive, notes))
        elif p.exists():
            out.append(p)
        else:
            raise DataError(f"{p}: no such image")
    if not out:
        raise DataError(f"no images in {', '.join(map(str, paths))} (images are {', '.join(IMAGE_EXTS)})")
    seen: dict[str, Path] = {}
    for p in out:
        if p.stem in seen:
            raise DataError(f"{seen[p.stem]} and {p} share the file stem {p.stem!r}: their outputs "
                            f"({p.stem}.mask.png, {p.stem}.overlay.png) would collide; rename one")
        seen[p.stem] = p
    return out, notes


def upscale_note(path: Path, image_hw: tuple[int, int], size: tuple[int, int]) -> str | None:
    """A note when the model input is much larger than the image (its prediction is of interpolated pixels)."""
    factor = max(size[0] / max(image_hw[0], 1), size[1] / max(image_hw[1], 1))
    if factor <= UPSCALE_NOTE:
        return None
    return (f"note: {path.name} is {image_hw[1]}x{image_hw[0]}, upscaled {factor:.1f}x to the model's "
            f"{size[1]}x{size[0]} input: its prediction is of interpolated pixels")
