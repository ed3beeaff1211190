"""Checks a command runs before any heavy import or write: inputs, data and output folder first.

``convert``'s checks are convert's own (:func:`edgeseg.export.convert.check_options`,
:func:`~edgeseg.export.convert.calibration_for`, :func:`~edgeseg.export.convert.refuse_overwrite`), run here
earlier; this module adds only the order and the reading of every frame.

A conversion that fails on its calibration frames, its output folder or ``--threads`` after
TensorFlow has loaded (or, worse, after some artifacts are written) wastes minutes and leaves
files behind. These checks use only numpy, Pillow and h5py, and write nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgeseg.errors import UsageError, one_line


def check_threads(threads: int | None) -> None:
    """``--threads`` must be a positive integer when given."""
    if threads is not None and threads < 1:
        raise UsageError(f"--threads must be >= 1, got {threads}")


def convert_inputs(args: argparse.Namespace, targets: list[str]) -> None:
    """Everything ``edgeseg convert`` can check without TensorFlow, in the order a user fixes it:
    the model file, flags, the output folder, then every calibration/verification frame it will read.

    Raises:
        EdgesegError: one line naming the first problem.
    """
    from edgeseg.cli._common import spec_from_args
    from edgeseg.core.fileio import check_output_dir
    from edgeseg.core.manifest import find_model_manifest
    from edgeseg.core.presets import CAMVID
    from edgeseg.core.spec import parse_size
    from edgeseg.data.calibration import verification_set
    from edgeseg.export.convert import calibration_for, check_options, output_paths, refuse_overwrite
    from edgeseg.export.registry import get_exporter
    from edgeseg.export.sources import inspect_source

    if not targets:
        return  # plan_conversion names the missing target
    inspect_source(args.model, trust_model=args.trust_model)  # sniffs; truncated, zip bomb, refused code
    check_threads(args.threads)
    if args.input_size:
        parse_size(args.input_size)
    check_options(calib_count=args.calib_count, io=args.io, head=args.head, calib_method=args.calib_method)
    check_output_dir(args.out if args.out is not None else Path(args.model).parent)
    if not getattr(args, "force", False):
        refuse_overwrite(output_paths(args.model, targets, args.out))
    manifest = find_model_manifest(args.model)
    given = args.spec is not None or args.preset is not None
    # The spec convert will use: flags, else the model's manifest, else CamVid (convert refuses other
    # class counts without a spec, after loading the model).
    spec = spec_from_args(args) if given else (manifest.spec if manifest is not None else CAMVID)
    exporters = [get_exporter(t) for t in dict.fromkeys(targets)]
    calib = calibration_for(exporters, args.calib_data, manifest, spec, spec.input_size, args.calib_count)
    verify = verification_set(args.verify_data, manifest, spec, spec.input_size, calib)
    if calib is not None:
        for j in calib.indices:
            calib.dataset.read_image(j)
    if verify is not None:
        for j in verify.indices:
            if verify.dataset.samples[j].mask is not None:
                verify.dataset.read(j)  # image, label map, values and sizes
            else:
                verify.dataset.read_image(j)


def image_files(paths: list[Path]) -> None:
    """Open every image's header (and check PNG chunks) before a model is loaded or anything written."""
    from PIL import Image

    from edgeseg.errors import DataError

    for path in paths:
        try:
            with Image.open(path) as im:
                im.verify()
        except Exception as exc:  # Pillow raises many types for garbage input  # noqa: BLE001
            reason = one_line(exc, 120)
            raise DataError(f"{path}: not a readable image ({reason})") from None
