"""``convert``/``lint`` flags for models without a manifest (classes, normalisation) and the not-written table."""

from __future__ import annotations

import argparse
from typing import Any


def add_model_spec_args(p: argparse.ArgumentParser) -> None:
    """``--classes``, ``--labels``, ``--normalize``, ``--mean``, ``--std``."""
    g = p.add_argument_group("models without a manifest (Keras 3, SavedModel, keras-hub)")
    g.add_argument("--classes", default=None, metavar="N|a,b,c",
                   help="the class count, or the class names in output order (must match the model's output)")
    g.add_argument("--labels", default=None, metavar="FILE", help="class names, one per line (instead of --classes)")
    g.add_argument("--normalize", default=None, choices=("unit", "imagenet", "symmetric", "raw"),
                   help="input preprocessing: unit = pixels/255, imagenet = ImageNet mean/std, symmetric = [-1, 1], "
                        "raw = pixels 0..255 (default: raw when the model starts with a Rescaling/Normalization "
                        "layer, else unit, said in one line)")
    g.add_argument("--mean", default=None, metavar="M|M1,M2,M3", help="mean of pixels scaled to [0, 1] (with --std)")
    g.add_argument("--std", default=None, metavar="S|S1,S2,S3", help="std of pixels scaled to [0, 1] (with --mean)")


def spec_options(args: argparse.Namespace) -> Any:
    """The :class:`~edgeseg.export.model_spec.SpecOptions` of the flags (checked: no TensorFlow needed)."""
    from edgeseg.export.model_spec import SpecOptions, class_names, normalization

    opts = SpecOptions(classes=args.classes, labels=args.labels, normalize=args.normalize, mean=args.mean,
                       std=args.std)
    class_names(opts)  # one-line errors before the model loads
    normalization(opts)
    return opts


def outcome_rows(outcomes: list[dict[str, Any]]) -> list[list[Any]]:
    """Table rows of targets that were not written (skipped under ``--all``, or failed)."""
    return [[o["target"], o["status"].upper(), "", "", "", o["reason"]] for o in outcomes]


def baseline_spec(artifact: Any, artifacts: list[Any]) -> Any:
    """The spec of a Keras/SavedModel source that has no manifest of its own, as ``convert`` recorded it in the
    manifest of an artifact made from it (``source.spec``; the model's own preprocessing, before pixels mode).
    ``None`` when the source has a manifest or no artifact names it (numpy + stdlib only)."""
    from pathlib import Path

    from edgeseg.core.manifest import Manifest, find_model_manifest
    from edgeseg.core.spec import Spec

    src = Path(artifact)
    if find_model_manifest(src) is not None:
        return None
    for other in artifacts:
        m = Manifest.for_artifact(other) if Path(other).is_file() else None
        recorded = (m.get("source") or {}) if m is not None else {}
        try:
            same = recorded.get("path") and Path(recorded["path"]).resolve() == src.resolve()
        except OSError:
            same = False
        if same and isinstance(recorded.get("spec"), dict):
            return Spec.from_dict(recorded["spec"])
    return None
