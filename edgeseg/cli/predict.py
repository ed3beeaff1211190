"""``edgeseg predict``: palette mask PNG + colour overlay per image, with any runtime."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgeseg.cli._common import add_spec_args, spec_from_args
from edgeseg.errors import DataError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``predict`` parser."""
    p = sub.add_parser("predict", help="segment images with an artifact; write mask + overlay PNGs")
    p.add_argument("artifact", type=Path, metavar="ARTIFACT", help=".tflite, .onnx or Keras .h5 file")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="image files or folders of images")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--backend", default=None, help="litert, litert-compiled, onnxruntime or keras (default: by format)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: the usable CPU cores, as in bench)")
    p.add_argument("--alpha", type=float, default=0.5, help="overlay opacity (default 0.5)")
    add_spec_args(p)
    p.set_defaults(handler=run_predict)


def _expand(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_EXTS and not f.name.startswith(".")))
        elif p.exists():
            out.append(p)
        else:
            raise DataError(f"{p}: no such image")
    if not out:
        raise DataError("no images given")
    stems = [p.stem for p in out]
    if len(set(stems)) != len(stems):
        raise DataError("two input images share a file stem; their outputs would collide")
    return out


def _read(path: Path):  # -> np.ndarray
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable image ({exc})") from None


def run_predict(args: argparse.Namespace) -> int:
    """Handler of ``predict``."""
    from edgeseg import runtime
    from edgeseg.bench.accuracy import predict_frame
    from edgeseg.bench.visual import save_mask_png, save_overlay_png
    from edgeseg.core.progress import track

    from edgeseg.cli._preflight import check_threads, image_files
    from edgeseg.core.fileio import check_output_dir

    images = _expand(args.images)
    image_files(images)  # every input and the output folder checked before anything is written
    check_output_dir(args.out)
    check_threads(args.threads)
    be = runtime.load(args.artifact, args.backend, threads=args.threads)
    if be.manifest is not None:
        spec = be.manifest.spec
    else:
        spec = spec_from_args(args)
    h, w = be.input_size
    size = (h, w) if h > 0 and w > 0 else spec.input_size
    for path in track(images, label="predict"):
        image = _read(path)
        labels = predict_frame(be, image, spec, size)
        save_mask_png(labels, spec, args.out / f"{path.stem}.mask.png")
        save_overlay_png(image, labels, spec, args.out / f"{path.stem}.overlay.png", args.alpha)
    print(f"wrote {2 * len(images)} PNGs to {args.out} ({be.name}, {len(images)} image(s))")
    return 0
