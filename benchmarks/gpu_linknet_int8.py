"""Where LiteRT's GPU accelerator goes wrong on the shipped LinkNet int8: smaller inputs, the encoder alone.

Builds, from `models/camvid-linknet/camvid-linknet.h5` (TensorFlow, this process):
  full  -- the whole LinkNet at 96x128, int8 with float I/O, calibrated on samples/camvid;
  enc1  -- its encoder only (cut before the first Conv2DTranspose): every op on the GPU, no CPU partition;
  enc4  -- the encoder's end plus three of its stage outputs (enc1_2_add, enc2_2_add, enc3_2_add);
then runs each on LiteRT's CPU and on its GPU accelerator in a fresh process without TensorFlow (the GPU
crashes beside it) and prints, per output, max and mean |GPU - CPU| and the output's range (and, for
`full`, the share of pixels with the same class). Needs a Vulkan device (`make vulkan`). docs/mobile.md
cites its output.

Usage: .venv/bin/python benchmarks/gpu_linknet_int8.py [--size 96x128] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

COMPARE = r"""
import json, sys
import numpy as np
from ai_edge_litert.compiled_model import CompiledModel
from ai_edge_litert.hardware_accelerator import HardwareAccelerator as H
from ai_edge_litert.options import CpuOptions, Options
x = np.load(sys.argv[1])
def run(path, acc):
    cm = CompiledModel.from_file(path, options=Options(hardware_accelerators=acc, cpu_options=CpuOptions(num_threads=2)))
    ins, outs = cm.create_input_buffers(0), cm.create_output_buffers(0)
    ins[0].write(x)
    cm.run_by_index(0, ins, outs)
    det = cm.get_output_tensor_details(next(iter(cm.get_signature_list())))
    return [outs[k].read(int(np.prod(d["shape"])), np.dtype(d["dtype"])).astype(np.float32).reshape(d["shape"])
            for k, d in enumerate(det.values())]
res = {}
for path in sys.argv[2:]:
    cpu, gpu = run(path, H.CPU), run(path, H.GPU | H.CPU)
    res[path] = [{"max_abs_diff": float(np.abs(a - b).max()), "mean_abs_diff": float(np.abs(a - b).mean()),
                  "range": float(np.abs(a).max()),
                  "agreement": float((a.argmax(-1) == b.argmax(-1)).mean()) if a.shape[-1] == 11 else None}
                 for a, b in zip(cpu, gpu)]
print(json.dumps(res))
"""


def build(size: tuple[int, int], out: Path) -> dict[str, Path]:
    """The three int8 files and the input frame (``x.npy``) under ``out``."""
    import numpy as np

    from edgeseg._keras import keras, tf
    from edgeseg.core.dataset import resolve_dataset
    from edgeseg.core.presets import get_preset
    from edgeseg.core.preprocess import preprocess
    from edgeseg.models.registry import build as build_model

    src = keras.models.load_model(REPO / "models" / "camvid-linknet" / "camvid-linknet.h5", compile=False)
    model = build_model("linknet", 11, size, batch_size=1, base_width=32, blocks=[2, 2, 2, 2], head="transpose")
    model.set_weights(src.get_weights())
    spec = get_preset("camvid")
    ds = resolve_dataset(REPO / "samples" / "camvid", spec)
    frames = [preprocess(ds.read_image(i), spec, size)[None].astype(np.float32) for i in range(len(ds))]
    np.save(out / "x.npy", frames[0])
    enc = next(layer for layer in model.layers if type(layer).__name__ == "Conv2DTranspose").input
    adds = {layer.name: layer.output for layer in model.layers if type(layer).__name__ == "Add"}
    graphs = {"full": model, "enc1": keras.Model(model.input, [enc]),
              "enc4": keras.Model(model.input, [enc] + [adds[n] for n in ("enc1_2_add", "enc2_2_add", "enc3_2_add")])}
    paths = {}
    for name, graph in graphs.items():
        conv = tf.lite.TFLiteConverter.from_keras_model(graph)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([f] for f in frames)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        paths[name] = out / f"linknet_{name}_int8.tflite"
        paths[name].write_bytes(conv.convert())
    return paths


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="96x128", help="HxW (default 96x128)")
    p.add_argument("--out", type=Path, default=None, help="keep the files here (default: a temp folder)")
    a = p.parse_args()
    size = tuple(int(v) for v in a.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="edgeseg-gpu-linknet-") as tmp:
        out = a.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        paths = build(size, out)  # type: ignore[arg-type]
        proc = subprocess.run([sys.executable, "-c", COMPARE, str(out / "x.npy"), *map(str, paths.values())],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            return 1
        res = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, path in paths.items():
        for k, r in enumerate(res[str(path)]):
            agree = "" if r["agreement"] is None else f", same class {100 * r['agreement']:.1f} %"
            print(f"{name} output {k}: max |GPU-CPU| {r['max_abs_diff']:.2f}, mean {r['mean_abs_diff']:.3f}, "
                  f"range {r['range']:.1f}{agree}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
