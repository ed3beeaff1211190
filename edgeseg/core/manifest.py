"""The sidecar manifest (``<artifact>.json`` / ``manifest.json``): everything a runtime needs to know."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from edgeseg import __version__
from edgeseg.core.fileio import write_text_atomic
from edgeseg.core.spec import Spec
from edgeseg.errors import SpecError

MANIFEST_VERSION = 1
#: Keys of the ``dataset`` section that hold folder paths.
DATASET_PATH_KEYS = ("path", "images", "masks")


def sidecar_path(artifact: str | os.PathLike[str]) -> Path:
    """Path of an artifact's sidecar manifest: the artifact's name plus ``.json``."""
    p = Path(artifact)
    return p.with_name(p.name + ".json")


class Manifest:
    """A JSON document with a required ``spec`` section and free-form sections around it.

    Known sections: ``spec`` (:class:`Spec`), ``preprocessing``, ``model`` (architecture,
    output stride, options), ``artifact`` (format, precision, io, head, sha256), ``quantization``,
    ``parity``, ``source`` (model path + sha256), ``dataset``, ``training``.
    """

    def __init__(self, spec: Spec, **sections: Any) -> None:
        self.spec = spec
        self.sections: dict[str, Any] = dict(sections)
        #: The file it was loaded from or saved to (``None`` for a manifest only in memory).
        self.path: Path | None = None

    def __getitem__(self, key: str) -> Any:
        return self.sections[key]

    def get(self, key: str, default: Any = None) -> Any:
        """Section ``key`` or ``default``."""
        return self.sections.get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self.sections[key] = value

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, with the format and edgeseg versions stamped in."""
        d = {"manifest_version": MANIFEST_VERSION, "edgeseg_version": __version__}
        # ``written_by`` (set on load) is the version that wrote the file read; this document stamps its own
        d.update((k, v) for k, v in self.sections.items() if k != "written_by")
        d["spec"] = self.spec.to_dict()
        d.setdefault("preprocessing", preprocessing_of(self.spec))
        return d

    def to_json(self) -> str:
        """Pretty, key-sorted JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically; returns the path. Dataset folders are recorded absolute too (``path_abs``, ...),
        and relative ones relative to the manifest's own folder, so the manifest works from any working folder
        (:func:`anchor_dataset_paths`)."""
        d = self.to_dict()
        if isinstance(d.get("dataset"), dict):
            d["dataset"] = anchor_dataset_paths(d["dataset"], Path(path).parent)
        write_text_atomic(path, json.dumps(d, indent=2, sort_keys=True) + "\n")
        self.path = Path(path)
        return Path(path)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Manifest":
        """Build from a parsed document; raises :class:`SpecError` if it has no valid spec."""
        if not isinstance(d, dict) or "spec" not in d:
            raise SpecError("manifest has no 'spec' section")
        spec = Spec.from_dict(d["spec"])
        rest = {k: v for k, v in d.items() if k not in ("spec", "manifest_version", "edgeseg_version")}
        m = cls(spec, **rest)
        m.sections["written_by"] = d.get("edgeseg_version")
        return m

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Manifest":
        """Read a manifest file; one-line errors for missing or malformed files."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SpecError(f"{p}: manifest not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError(f"{p}: cannot read manifest ({exc})") from None
        try:
            m = cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise SpecError(f"{p}: manifest is not valid JSON ({exc.msg} at line {exc.lineno})") from None
        except SpecError as exc:
            raise SpecError(f"{p}: {exc}") from None
        m.path = p
        if isinstance(m.get("dataset"), dict):
            m["dataset"] = resolve_dataset_paths(m["dataset"], p.parent)
        return m

    @classmethod
    def for_artifact(cls, artifact: str | os.PathLike[str]) -> "Manifest | None":
        """The sidecar manifest of an artifact, or ``None`` if there is none."""
        p = sidecar_path(artifact)
        return cls.load(p) if p.exists() else None


def anchor_dataset_paths(section: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The ``dataset`` section as saved in ``folder``: every folder path also absolute (``<key>_abs``), and a
    relative one rewritten relative to ``folder`` (it was relative to the working folder, as typed)."""
    out = dict(section)
    for key in DATASET_PATH_KEYS:
        if out.get(key):
            absolute = os.path.abspath(out[key])
            if not os.path.isabs(out[key]):
                try:
                    out[key] = os.path.relpath(absolute, os.path.abspath(folder))
                except ValueError:  # another drive (Windows)
                    out[key] = absolute
            out[f"{key}_abs"] = absolute
    return out


def resolve_dataset_paths(section: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The ``dataset`` section of a manifest read from ``folder``, with absolute folder paths: the path
    relative to ``folder`` if it exists, else the recorded absolute one, else (manifests written before
    paths were anchored) relative to the working folder; ``<key>_abs`` entries are dropped."""
    out = {k: v for k, v in section.items() if not (k.endswith("_abs") and k[:-4] in DATASET_PATH_KEYS)}
    for key in DATASET_PATH_KEYS:
        value = section.get(key)
        if not value:
            continue
        candidates = [folder / value, section.get(f"{key}_abs"), value]
        found = next((c for c in candidates if c and Path(c).is_dir()), None)
        out[key] = os.path.abspath(found if found is not None else folder / value)
    return out


def preprocessing_of(spec: Spec) -> dict[str, Any]:
    """The preprocessing recipe implied by a spec (what :mod:`edgeseg.core.preprocess` does)."""
    return {
        "input_size": list(spec.input_size),
        "resize": "bilinear, half-pixel centres, no antialias",
        "scale": "1/255",
        "mean": list(spec.mean),
        "std": list(spec.std),
        "channel_order": spec.channel_order,
        "layout": "NHWC",
    }


def find_model_manifest(model: str | os.PathLike[str]) -> "Manifest | None":
    """The manifest that describes a model file: its sidecar ``<model>.json``, else a
    ``manifest.json`` in the same folder (what ``edgeseg train`` writes), else ``None``."""
    p = Path(model)
    for candidate in (sidecar_path(p), p.parent / "manifest.json"):
        if candidate.is_file():
            return Manifest.load(candidate)
    return None
