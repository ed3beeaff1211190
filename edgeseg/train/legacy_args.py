"""Version 0 of the training request: the ``edgeseg train`` flags as argparse parsed them (``training.args``).

Runs written before :class:`~edgeseg.train.request.TrainRequest` stored only ``vars(args)``; this module reads that
dict (:func:`request_from_args`, so ``--resume`` continues them) and writes the same shape (:func:`args_of`), which
manifests keep under ``training.args`` for the scripts and people that read it. The key names here are frozen: they
are what old manifests hold, whatever the flags are called today.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeseg.core.spec import parse_size
from edgeseg.errors import SpecError
from edgeseg.train.request import AugmentRequest, DataRequest, ModelRequest, OptimRequest, TrainRequest

_COLOUR = ("brightness", "contrast", "saturation", "gamma", "channel_gain")


def request_from_args(args: dict[str, Any]) -> TrainRequest:
    """The request a version-0 ``training.args`` dict describes. Absent keys take the defaults of the day they
    were added, except ``precision``: runs from before ``--precision`` trained in fp32, so they go on in it."""
    a = dict(args)
    if not a.get("out"):
        raise SpecError("training.args: no run folder (out)")
    model = ModelRequest(name=a.get("model"), options=_options(a.get("model_option") or []),
                         init=_path(a.get("init")), qat=bool(a.get("qat")))
    data = DataRequest(
        dataset=_path(a.get("dataset")), splits=_list(a.get("split") or "train"), val_split=a.get("val_split"),
        val_holdout=_list(a.get("val_holdout") or ""), images=_path(a.get("images")), masks=_path(a.get("masks")),
        preset=a.get("preset"), spec=_path(a.get("spec")), label_remap=_remap(a.get("label_remap")),
        input_size=parse_size(a["input_size"]) if a.get("input_size") else None,
        crop=parse_size(a["crop"]) if a.get("crop") else None, fit=a.get("fit") or "resize")
    lo, hi = (float(v) for v in str(a.get("scale") or "0.75,1.5").split(","))
    colour = {k: float(a[k]) for k in _COLOUR if a.get(k) is not None}
    augment = AugmentRequest(enabled=not a.get("no_augment"), scale=(lo, hi),
                             rotation=float(a.get("rotation", 5.0)), **colour)
    optim = OptimRequest(optimizer=a.get("optimizer") or "adam", lr=a.get("lr"), momentum=float(a.get("momentum", 0.9)),
                         weight_decay=float(a.get("weight_decay") or 0.0), schedule=a.get("schedule") or "poly",
                         warmup_epochs=float(a.get("warmup_epochs") or 0.0), ema=float(a.get("ema") or 0.0))
    return TrainRequest(
        out=Path(a["out"]), model=model, data=data, augment=augment, optim=optim, loss=a.get("loss") or "ce",
        class_weights=a.get("class_weights") or "none", epochs=a.get("epochs"), batch_size=int(a.get("batch_size", 8)),
        steps_per_epoch=a.get("steps_per_epoch"), val_every=int(a.get("val_every") or 1), seed=a.get("seed"),
        precision=a.get("precision") or "fp32", jit=a.get("jit") or "auto",
        steps_per_execution=a.get("steps_per_execution"), threads=a.get("threads"),
        strategy=a.get("strategy") or "none", cpu_replicas=a.get("cpu_replicas"))


def args_of(request: TrainRequest) -> dict[str, Any]:
    """``request`` in the version-0 shape (flag names, flag-style strings), as ``training.args`` has always held."""
    r, m, d, g, o = request, request.model, request.data, request.augment, request.optim

    def size(value: tuple[int, int] | None) -> str | None:
        return f"{value[0]}x{value[1]}" if value else None

    def text(value: Path | None) -> str | None:
        return str(value) if value is not None else None

    return {
        "model": m.name, "model_option": [f"{k}={_option_text(v)}" for k, v in m.options.items()], "init": text(m.init),
        "qat": m.qat, "dataset": text(d.dataset), "split": ",".join(d.splits), "val_split": d.val_split,
        "val_holdout": ",".join(d.val_holdout) or None, "val_every": r.val_every, "images": text(d.images),
        "masks": text(d.masks), "preset": d.preset, "spec": text(d.spec),
        "label_remap": ",".join(f"{k}:{v}" for k, v in d.label_remap.items()) if d.label_remap else None,
        "input_size": size(d.input_size), "crop": size(d.crop), "fit": d.fit,
        "scale": f"{g.scale[0]},{g.scale[1]}", "rotation": g.rotation, **{k: getattr(g, k) for k in _COLOUR},
        "no_augment": not g.enabled, "epochs": r.epochs, "batch_size": r.batch_size,
        "steps_per_epoch": r.steps_per_epoch, "loss": r.loss, "class_weights": r.class_weights,
        "optimizer": o.optimizer, "lr": o.lr, "momentum": o.momentum, "weight_decay": o.weight_decay,
        "schedule": o.schedule, "warmup_epochs": o.warmup_epochs, "ema": o.ema, "seed": r.seed, "jit": r.jit,
        "steps_per_execution": r.steps_per_execution, "threads": r.threads, "precision": r.precision,
        "strategy": r.strategy, "cpu_replicas": r.cpu_replicas, "out": str(r.out),
    }


def _path(value: Any) -> Path | None:
    return Path(value) if value is not None else None


def _list(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in str(text).split(",") if s.strip())


def _options(items: list[str]) -> dict[str, Any]:
    """``k=v`` strings; values are JSON when they parse as JSON (numbers, true, [1,2]), else strings."""
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = str(item).partition("=")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def _option_text(value: Any) -> str:
    """The ``k=v`` text :func:`_options` reads back as ``value`` (plain strings stay unquoted: ``activation=relu``)."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
    return json.dumps(value)


def _remap(text: str | None) -> dict[int, int] | None:
    if not text:
        return None
    pairs = (part.split(":") for part in str(text).split(","))
    return {int(a): int(b) for a, b in pairs}


__all__ = ["request_from_args", "args_of"]
