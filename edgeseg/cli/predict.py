"""``edgeseg predict``: palette mask PNG + colour overlay per image, with any runtime."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgeseg.cli._common import add_spec_args, spec_from_args
from edgeseg.cli._inputs import expand_images, upscale_note
from edgeseg.errors import DataError, UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``predict`` parser."""
    p = sub.add_parser("predict", help="segment images with an artifact; write mask + overlay PNGs")
    p.add_argument("artifact", type=Path, metavar="ARTIFACT", help=".tflite, .onnx or Keras .h5 file")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE",
                   help="image files or folders of images (a folder's own images; subfolders with --recursive)")
    p.add_argument("--recursive", action="store_true", help="also take the images in subfolders of a folder")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--backend", default=None, help="litert, litert-compiled, onnxruntime or keras (default: by format)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: the usable CPU cores, as in bench)")
    p.add_argument("--alpha", type=float, default=0.5, help="overlay opacity, 0 (image only) to 1 (colours only) "
                                                            "(default 0.5)")
    add_spec_args(p)
    p.set_defaults(handler=run_predict)


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
    from edgeseg.bench.visual import save_legend_png, save_mask_png, save_overlay_png
    from edgeseg.core.progress import track

    from edgeseg.cli._preflight import check_threads, image_files
    from edgeseg.core.fileio import check_output_dir

    if not 0.0 <= args.alpha <= 1.0:
        raise UsageError(f"--alpha must be between 0 and 1, got {args.alpha:g}")
    images, notes = expand_images(args.images, args.recursive)
    for note in notes:
        sys.stderr.write(note + "\n")
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
        note = upscale_note(path, image.shape[:2], size)
        if note:
            sys.stderr.write(note + "\n")
        labels = predict_frame(be, image, spec, size)
        save_mask_png(labels, spec, args.out / f"{path.stem}.mask.png")
        save_overlay_png(image, labels, spec, args.out / f"{path.stem}.overlay.png", args.alpha)
    save_legend_png(spec, args.out / "legend.png")
    print(f"wrote {2 * len(images)} PNGs and legend.png (class colours) to {args.out} ({be.name}, "
          f"{be.threads} threads, {len(images)} image(s))")
    return 0
