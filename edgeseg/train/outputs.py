"""What a training run writes: model files, resumable state, history.csv and manifest.json."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg._keras import keras
from edgeseg.core.fileio import atomic_path, write_text_atomic
from edgeseg.core.manifest import Manifest, preprocessing_of
from edgeseg.core.spec import Spec
from edgeseg.errors import ModelError

BEST, LAST, STATE, HISTORY, MANIFEST = "best.h5", "last.h5", "last.state.npz", "history.csv", "manifest.json"


def _not_compile_notice(record: logging.LogRecord) -> bool:
    # tf_keras logs "Compiled the loaded model, but the compiled metrics have yet to be built" on
    # every HDF5 save of a model that was never compiled (ours never are): once per epoch, misleading.
    return "compiled metrics have yet to be built" not in record.getMessage()


def save_model(model: keras.Model, path: Path) -> None:
    """Save ``model`` as HDF5 (no optimizer) atomically."""
    tf_log = logging.getLogger("tensorflow")
    tf_log.addFilter(_not_compile_notice)
    try:
        with atomic_path(path) as tmp, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*HDF5 file.*legacy", category=UserWarning)
            model.save(tmp, save_format="h5", include_optimizer=False)
    finally:
        tf_log.removeFilter(_not_compile_notice)


def load_model(path: Path) -> keras.Model:
    """Load a training ``.h5``; QAT models (tfmot wrappers) load inside tfmot's quantize_scope."""
    try:
        return keras.models.load_model(path, compile=False)
    except (ValueError, TypeError) as exc:
        if "Quantize" not in str(exc):
            raise ModelError(f"{path}: cannot load Keras model ({str(exc).splitlines()[0]})") from None
    from edgeseg.train.qat import load_qat_model

    return load_qat_model(path)


def save_state(out: Path, optimizer: keras.optimizers.Optimizer, meta: dict[str, Any]) -> None:
    """Optimizer variables (in ``optimizer.variables`` order) and run metadata, atomically."""
    arrays = {f"opt_{i:04d}": v.numpy() for i, v in enumerate(optimizer.variables)}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    with atomic_path(out / STATE) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def load_state(out: Path) -> tuple[list[np.ndarray], dict[str, Any]]:
    """The arrays and metadata written by :func:`save_state`."""
    path = out / STATE
    if not path.is_file():
        raise ModelError(f"{path}: no training state to resume from")
    with np.load(path) as z:
        meta = json.loads(bytes(z["meta"]).decode("utf-8"))
        opt = [z[k] for k in sorted(k for k in z.files if k.startswith("opt_"))]
    return opt, meta


def restore_optimizer(optimizer: keras.optimizers.Optimizer, variables: list, arrays: list[np.ndarray]) -> None:
    """Create the optimizer's slots for ``variables`` and load saved values into them."""
    optimizer.build(variables)
    if len(optimizer.variables) != len(arrays):
        raise ModelError(f"saved optimizer state has {len(arrays)} variables, the optimizer {len(optimizer.variables)}"
                         " (different optimizer or model?)")
    for var, value in zip(optimizer.variables, arrays):
        if tuple(var.shape) != value.shape:
            raise ModelError(f"saved optimizer variable {var.name} has shape {value.shape}, expected {var.shape}")
        var.assign(value)


def history_fields(spec: Spec, raw: bool = False) -> list[str]:
    """Columns of history.csv (``raw``: runs with weight averaging also score the raw weights)."""
    return (["epoch", "loss", "val_miou", "val_pixel_accuracy", "lr", "seconds"] + (["val_miou_raw"] if raw else [])
            + [f"iou_{name}" for name in spec.class_names])


def write_history(out: Path, spec: Spec, rows: list[dict[str, Any]]) -> None:
    """Rewrite history.csv with every row so far (atomic, so a crash never leaves half a file)."""
    buf = io.StringIO()
    raw = any(row.get("val_miou_raw") not in (None, "") for row in rows)
    w = csv.DictWriter(buf, fieldnames=history_fields(spec, raw), extrasaction="ignore")
    w.writeheader()
    for row in rows:
        w.writerow({k: _fmt(v) for k, v in row.items()})
    write_text_atomic(out / HISTORY, buf.getvalue())


def read_history(out: Path) -> list[dict[str, Any]]:
    """Rows of an existing history.csv (strings), or ``[]``."""
    path = out / HISTORY
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return v


def write_manifest(out: Path, spec: Spec, *, model: dict[str, Any], dataset: dict[str, Any],
                   training: dict[str, Any], fit: str = "resize", quantization: dict[str, Any] | None = None) -> Path:
    """manifest.json beside the model files: spec, preprocessing, model, dataset, training."""
    pre = preprocessing_of(spec)
    pre["fit"] = fit
    if fit == "pad":
        pre["resize"] = "none; padded bottom/right to a multiple of the output stride with the mean colour"
    sections: dict[str, Any] = {"preprocessing": pre, "model": model, "dataset": dataset, "training": training}
    if quantization:
        sections["quantization"] = quantization
    return Manifest(spec, **sections).save(out / MANIFEST)
