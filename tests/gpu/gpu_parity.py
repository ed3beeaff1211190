"""Run one .tflite on LiteRT's GPU accelerator and on the CPU (XNNPACK) over a few frames; print JSON.

Run as a script (``python gpu_parity.py ART FRAMES_DIR [--ref FP32.tflite] [--compile-only]``) in a process
without TensorFlow: creating the GPU accelerator beside TensorFlow segfaults. Prints one JSON line with the
GPU's placement and device, pixel agreement and logit differences GPU vs CPU, mIoU of each over the frames
and, with ``--ref``, how far each of the two lies from the fp32 reference on the CPU.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def _predict(path: str, accelerator: str, ds_ref: str) -> tuple[np.ndarray, object, object]:
    """Logits of every frame, each preprocessed with the artifact's own manifest spec; the backend; the dataset."""
    from edgeseg import runtime
    from edgeseg.core.dataset import resolve_dataset
    from edgeseg.core.preprocess import preprocess

    be = runtime.load(path, "litert-compiled", threads=2, accelerator=accelerator)
    spec = be.manifest.spec
    ds = resolve_dataset(ds_ref, spec)
    frames = [preprocess(ds.read_image(i), spec, be.input_size)[None] for i in range(len(ds))]
    return np.concatenate([be.run(x) for x in frames]), be, ds


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("artifact")
    p.add_argument("frames")
    p.add_argument("--ref", default=None)
    p.add_argument("--compile-only", action="store_true")
    a = p.parse_args()
    from edgeseg import runtime
    from edgeseg.core.metrics import ConfusionMatrix

    if a.compile_only:
        be = runtime.load(a.artifact, "litert-compiled", threads=2, accelerator="gpu")
        print(json.dumps({"placement": be.delegated_ops(), "device": be.device(), "ops": be.summary.operators}))
        return 0
    cpu, cpu_be, ds = _predict(a.artifact, "cpu", a.frames)
    gpu, gpu_be, _ = _predict(a.artifact, "gpu", a.frames)
    spec, n = cpu_be.manifest.spec, len(ds)
    out = {"placement": gpu_be.delegated_ops(), "device": gpu_be.device(), "frames": n,
           "agreement": float((cpu.argmax(-1) == gpu.argmax(-1)).mean()),
           "max_abs_diff": float(np.abs(cpu - gpu).max()), "mean_abs_diff": float(np.abs(cpu - gpu).mean())}
    for name, logits in (("cpu", cpu), ("gpu", gpu)):
        cm = ConfusionMatrix(len(spec.class_names), spec.void_index)
        for i in range(n):
            mask = ds.read_mask(i)
            cm.update(mask, _resize(logits[i].argmax(-1), mask.shape))
        out[f"miou_{name}"] = 100.0 * float(cm.scores().miou)
    if a.ref:
        ref, _, _ = _predict(a.ref, "cpu", a.frames)
        out["cpu_vs_ref"] = float(np.abs(cpu - ref).mean())
        out["gpu_vs_ref"] = float(np.abs(gpu - ref).mean())
    print(json.dumps(out))
    return 0


def _resize(labels: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Nearest resize of a class map to the label's size (as edgeseg's accuracy pass does)."""
    h, w = labels.shape
    rows = (np.arange(shape[0]) * h // shape[0]).clip(0, h - 1)
    cols = (np.arange(shape[1]) * w // shape[1]).clip(0, w - 1)
    return labels[rows][:, cols]


if __name__ == "__main__":
    sys.exit(main())
