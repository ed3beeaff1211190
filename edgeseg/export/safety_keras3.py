"""Inspect Keras 3 files before Keras touches them: the ``.keras`` zip, Keras-3 ``.h5`` configs, module allow-list.

A Keras 3 config names the Python object behind every layer, initializer and activation by
``module`` + ``class_name``; Keras imports that module and calls the object while loading. A config
naming ``os.system`` as an activation (the CVE-2025-1550 shape) therefore runs a shell command on
load. Everything here reads JSON only (zipfile, h5py): no Keras, no code from the file runs.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any, Iterator

from edgeseg.errors import ModelError, one_line

#: Top-level packages whose classes and functions a config may name without ``--trust-model``.
TRUSTED_ROOTS = frozenset({"keras", "keras_hub", "edgeseg"})
#: Module parts under which a config may name plain functions (activations, losses, ...). Anything else
#: (``keras.utils.get_file``, ``keras.src.saving...``) is refused: a trusted package still has functions
#: that write files or fetch URLs.
FUNCTION_PARTS = frozenset({"activations", "losses", "metrics", "initializers", "regularizers", "constraints",
                            "ops", "optimizers", "schedules"})
#: Class names that carry Python code (bytecode or source) executed on load.
CODE_CLASSES = frozenset({"Lambda", "__lambda__", "TFOpLambda", "SlicingOpLambda"})
#: Largest ``config.json`` / ``metadata.json`` read (uncompressed).
MAX_CONFIG_BYTES = 64 << 20
#: Largest total uncompressed size, and compression ratio of a large member, of a ``.keras`` zip (zip bombs).
MAX_TOTAL_BYTES = 16 << 30
MAX_RATIO = 200


def read_keras_zip(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(config, metadata)`` of a ``.keras`` file, read with zipfile only.

    Raises:
        ModelError: not a zip, truncated, a zip bomb, or no Keras model config inside.
    """
    p = Path(path)
    try:
        with zipfile.ZipFile(p) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            total = sum(i.file_size for i in infos.values())
            if total > MAX_TOTAL_BYTES:
                raise ModelError(f"{p}: .keras archive expands to {total / 2**30:.1f} GiB; refusing (zip bomb?)")
            for i in infos.values():
                if i.file_size > (1 << 20) and i.file_size > MAX_RATIO * max(i.compress_size, 1):
                    raise ModelError(f"{p}: .keras member {i.filename} is compressed {i.file_size // max(i.compress_size, 1)}"
                                     f":1; refusing (zip bomb?)")
            if "config.json" not in infos:
                raise ModelError(f"{p}: zip file holds no config.json (not a Keras 3 .keras model)")
            config = _json_member(p, zf, infos["config.json"])
            meta = _json_member(p, zf, infos["metadata.json"]) if "metadata.json" in infos else {}
            bad = zf.testzip()  # CRC of every member: a truncated or damaged weights file fails here, not in Keras
            if bad is not None:
                raise ModelError(f"{p}: .keras member {bad} is corrupt (CRC mismatch)")
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as exc:
        raise ModelError(f"{p}: corrupt or truncated .keras file ({one_line(exc, 120)})") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise ModelError(f"{p}: config.json is not a Keras model description")
    return config, meta if isinstance(meta, dict) else {}


def _json_member(p: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Any:
    if info.file_size > MAX_CONFIG_BYTES:
        raise ModelError(f"{p}: {info.filename} is {info.file_size >> 20} MiB; refusing (zip bomb?)")
    with zf.open(info) as fh:
        raw = fh.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:
        raise ModelError(f"{p}: {info.filename} expands beyond {MAX_CONFIG_BYTES >> 20} MiB; refusing (zip bomb?)")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelError(f"{p}: {info.filename} is not valid JSON") from None


def objects(config: Any) -> Iterator[dict[str, Any]]:
    """Every serialised object (a dict with ``class_name``) in a config, depth first."""
    if isinstance(config, dict):
        if "class_name" in config:
            yield config
        for v in config.values():
            yield from objects(v)
    elif isinstance(config, list):
        for v in config:
            yield from objects(v)


def _name(obj: dict[str, Any]) -> str:
    cfg = obj.get("config")
    return str(cfg.get("name", "?")) if isinstance(cfg, dict) else str(cfg)[:40]


def untrusted_reason(obj: dict[str, Any]) -> str | None:
    """Why loading this serialised object could run code from outside Keras, or ``None``."""
    cls, module = str(obj.get("class_name", "")), obj.get("module")
    if cls in CODE_CLASSES:
        return f"layer {_name(obj)!r} is a {cls} layer, which runs Python code stored in the file"
    if module is None:
        return None
    if not isinstance(module, str) or module.split(".")[0] not in TRUSTED_ROOTS:
        what = f"function {module}.{_name(obj)}" if cls == "function" else f"class {module}.{cls}"
        return f"the config names the {what}, outside keras/keras_hub/edgeseg (code that would run on load)"
    if cls == "function" and not FUNCTION_PARTS.intersection(module.split(".")):
        return f"the config names the function {module}.{_name(obj)}, which is not an activation/loss/metric"
    return None


def check_keras3_config(path: str | os.PathLike[str], config: dict[str, Any], *, trust_model: bool) -> None:
    """Refuse code-carrying layers and objects from untrusted modules (unless ``trust_model``).

    Raises:
        ModelError: one line naming the first offender.
    """
    if trust_model:
        return
    reasons = [r for r in (untrusted_reason(o) for o in objects(config)) if r]
    if reasons:
        more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
        raise ModelError(f"{path}: {reasons[0]}{more}; refusing to load it (pass --trust-model if you trust this "
                         "file)")


def needs_keras_hub(config: dict[str, Any]) -> bool:
    """Whether the config names keras-hub classes (``keras_hub`` must be imported to rebuild them)."""
    return any(str(o.get("module") or "").startswith("keras_hub") or
               str(o.get("registered_name") or "").startswith("keras_hub>") for o in objects(config))


def is_keras3_config(config: dict[str, Any], keras_version: str | None) -> bool:
    """Whether an ``.h5`` ``model_config`` was written by Keras 3 (``keras_version`` 3.x, else the config
    shape: Keras 3 records a ``module`` per object and ``batch_shape`` on input layers)."""
    if keras_version:
        return str(keras_version).split(".")[0] == "3"
    for o in objects(config):
        if "module" in o:
            return True
        cfg = o.get("config")
        if o.get("class_name") == "InputLayer" and isinstance(cfg, dict) and "batch_shape" in cfg:
            return True
    return False
