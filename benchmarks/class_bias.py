"""Class-weight bias of a trained model: per-class precision/recall, and mIoU with the weights' prior removed.

Usage:
    .venv/bin/python benchmarks/class_bias.py models/camvid-unet/camvid-unet.onnx [more .onnx/.tflite ...]
        [--data ../shared/camvid] [--split val] [--taus 0,0.25,0.5,0.75,1] [--threads 2] [--out FILE.json]

A model trained with class-weighted cross-entropy (weights w_c) learns scores shifted by about
log(w_c): it over-predicts the up-weighted rare classes. That raises their recall and mean class
accuracy but costs IoU, because every over-predicted pixel is a false positive for the rare class
and a false negative for a frequent one. This script measures it: for every artifact it scores
the dataset once with ``argmax(z)`` and with ``argmax(z - tau * log w)`` for each tau (w from the
artifact manifest's ``training.class_weights``), on the same logits, and prints per-class IoU,
and the precision and recall of the model as trained (tau = 0, always scored). tau = 1 removes the whole prior. This is a diagnosis, not a deployment
step: the zoo models fix the bias by fine-tuning (docs/train.md), not by editing biases on val.
Runs on ONNX Runtime or LiteRT (no TensorFlow).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _weights(backend, path: Path):
    import numpy as np

    if backend.manifest is None:
        raise SystemExit(f"{path}: no manifest beside it (convert it with edgeseg, which writes one)")
    w = (backend.manifest.get("training") or {}).get("class_weights")
    if not w:
        raise SystemExit(f"{path}: its manifest records no training class weights (trained without --class-weights?)")
    return np.asarray(w, dtype=np.float64)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("artifacts", nargs="+", type=Path)
    p.add_argument("--data", default=str(REPO.parent / "shared" / "camvid"))
    p.add_argument("--split", default="val")
    p.add_argument("--taus", default="0,0.25,0.5,0.75,1")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    import numpy as np

    from edgeseg import runtime
    from edgeseg.bench.system import machine_info, versions
    from edgeseg.core.dataset import resolve_dataset
    from edgeseg.core.metrics import ConfusionMatrix
    from edgeseg.core.preprocess import preprocess, resize_nearest

    taus = sorted({0.0, *(float(t) for t in args.taus.split(","))})  # tau = 0 is the model as trained
    report = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "data": args.data, "split": args.split,
              "machine": machine_info(), "versions": versions(), "models": {}}
    for path in args.artifacts:
        be = runtime.load(path, threads=args.threads)
        logw = np.log(_weights(be, path))
        spec = be.manifest.spec
        ds = resolve_dataset(args.data, spec, split=args.split)
        cms = {t: ConfusionMatrix(spec.num_classes, spec.void_index) for t in taus}
        for i in range(len(ds)):
            image, mask = ds.read(i)
            z = be.run(preprocess(image, spec, be.input_size)[None])[0].astype(np.float64)
            for t in taus:
                labels = np.argmax(z - t * logw, axis=-1).astype(np.uint8)
                cms[t].update(mask, resize_nearest(labels, image.shape[:2]))
            print(f"\r{path.name}: {i + 1}/{len(ds)}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        scores = {t: cms[t].scores() for t in taus}
        base = scores[0.0]
        names = spec.class_names
        print(f"\n### {path}\n")
        print("| class | precision | recall | " + " | ".join(f"IoU tau={t:g}" for t in taus) + " |")
        print("|---|---:|---:|" + "---:|" * len(taus))
        for c, n in enumerate(names):
            print(f"| {n} | {100 * base.precision[c]:.1f} | {100 * base.class_accuracy[c]:.1f} | "
                  + " | ".join(f"{100 * scores[t].iou[c]:.1f}" for t in taus) + " |")
        print("| **mIoU** | | | " + " | ".join(f"**{100 * scores[t].miou:.2f}**" for t in taus) + " |")
        report["models"][str(path)] = {
            "class_weights": [round(float(v), 4) for v in np.exp(logw)],
            "by_tau": {f"{t:g}": scores[t].to_dict(names) for t in taus},
        }
    print(f"\n`{report['command']}`")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
