"""Reproduce docs/convert.md "Bring your own model": three Keras 3 segmenters saved every way, converted and benched.

Builds (random weights, no download; the builders of ``tests/export/byom_models.py``) the keras.io pets
U-Net (``.keras``, SavedModel, Keras-3 ``.h5``), a keras-hub DeepLabV3 on a small ResNet and a keras-hub
SegFormer on a small MiT (``.keras``, SavedModel), a 64x64 4-frame dataset with 3-class masks from
``samples/camvid``, then runs ``edgeseg convert M --all --classes 3 --calib-data DATA`` for every file and
``edgeseg bench`` on the U-Net's artifacts beside its ``.keras`` source. Each command and its output go to
``OUT/commands.txt``.

    .venv/bin/python benchmarks/byom.py [--out out/byom]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "export"))


def run(cmd: list[str], log: list[str]) -> None:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "edgeseg", *cmd], capture_output=True, text=True, cwd=ROOT)
    shown = " ".join(str(c) for c in cmd)
    log.append(f"$ edgeseg {shown}    # exit {r.returncode}, {time.perf_counter() - t0:.1f} s wall\n{r.stderr}{r.stdout}")
    print(log[-1], flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "out" / "byom")
    args = p.parse_args()
    from byom_models import BUILDERS, save_all, tiny_dataset

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    files = {name: save_all(name, out) for name in BUILDERS}
    data = out / "data"
    if not data.exists():
        tiny_dataset(ROOT / "samples" / "camvid", data)
    log: list[str] = []
    for name, forms in files.items():
        for form, path in forms.items():
            run(["convert", str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path), "--all", "--classes",
                 "3", "--calib-data", str(data), "--out", str(out / f"{name}_{form}"), "--force", "--no-lint"], log)
    arts = out / "unet_keras"
    run(["bench", str(files["unet"]["keras"]), str(arts / "unet_fp32.tflite"), str(arts / "unet_int8.tflite"),
         str(arts / "unet.onnx"), str(arts / "unet_int8.onnx"), "--data", str(data), "--threads", "2"], log)
    (out / "commands.txt").write_text("\n".join(log))


if __name__ == "__main__":
    main()
