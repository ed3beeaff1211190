#!/usr/bin/env python3
"""Write models/camvid-<name>/MODEL_CARD.md for a model shipped by scripts/ship_model.py.

    .venv/bin/python scripts/model_card.py linknet

Every figure comes from the folder's manifest.json, heldout.json and the conversions' sidecars; the
architecture text is the only hand-written part (ARCH below).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ARCH = {
    "enet": (
        "ENet (ReLU variant)",
        "ENet (Paszke et al. 2016), `edgeseg.models` `enet`, `activation=relu`, width 1.0 — 0.385 M parameters, "
        "2.73 GFLOPs at 360x480 (`edgeseg models enet`)",
        "ReLU instead of PReLU (XNNPACK has no int8 PReLU kernel: with PReLU 84 nodes fall off the delegate and "
        "int8 p50 is 5-7x slower, see docs/convert.md); indices-free bilinear upsampling instead of max-unpooling "
        "(TFLite has no builtin for argmax unpooling); the head ends in a 1x1 conv after the 2x2 transposed conv, "
        "so no graph ends in TRANSPOSE_CONV (LiteRT's CompiledModel); downsampling bottlenecks activate before "
        "the concatenation (int8 ReLUs fuse)"),
    "unet": (
        "U-Net (base width 16)",
        "U-Net (Ronneberger et al. 2015), `edgeseg.models` `unet`, `base_width=16`, depth 4, BatchNorm, 2x2 "
        "transposed up-convs — 1.95 M parameters, 16.4 GFLOPs at 368x480 "
        "(`edgeseg models unet -o base_width=16 --input-size 368x480`)",
        "**a quarter of the width**: 16/32/64/128/256 channels instead of 64...1024 (the paper's width is 31.05 M "
        "parameters and 260 GFLOPs at 368x480: ~124 MB per fp32 file, over the 80 MB budget of `models/`); "
        "BatchNorm after every 3x3 conv; 'same' padding, so the input sides must be multiples of 16: CamVid's "
        "360x480 frames are resized to 368x480 and predictions resized back to the labels"),
    "linknet": (
        "LinkNet (half-width ResNet-18 encoder)",
        "LinkNet (Chaurasia & Culurciello 2017), `edgeseg.models` `linknet`, `base_width=32`, blocks (2, 2, 2, 2) "
        "— 2.90 M parameters, 4.09 GFLOPs at 384x480 (`edgeseg models linknet -o base_width=32 --input-size 384x480`)",
        "**half width**: 32/64/128/256 channels instead of 64/128/256/512 (full width: 11.55 M parameters, "
        "~93 MB for .h5 + .onnx, over the 80 MB budget of `models/`); **no ImageNet pre-training** (nothing can "
        "be downloaded here); the final 2x2 full conv is followed by a 1x1 conv so the graph does not end in "
        "TRANSPOSE_CONV; 'same' padding, so the input is 384x480 (frames resized, predictions resized back)"),
    "rtseg": (
        "rtseg (edgeseg's int8-first real-time network)",
        "`edgeseg.models` `rtseg` (this project's design for XNNPACK int8: dense 3x3 residual stages, add-fusion "
        "decoder, bilinear heads; docs/models.md) — 3.01 M parameters, 3.24 GFLOPs at 384x480 "
        "(`edgeseg models rtseg --input-size 384x480`)",
        "not a published network; input sides must be multiples of 32, so CamVid's 360x480 frames are resized "
        "to 384x480 and predictions resized back to the labels"),
}

#: Measured limits particular to one model, appended to its card's "Known limits".
LIMITS = {
    "linknet": "LiteRT 2.3's GPU accelerator computes this int8 file wrongly (47 % pixel agreement with its CPU "
               "on the previous weights; fp32 and fp16 are right): `benchmarks/gpu_linknet_int8.py`, docs/mobile.md.",
    "rtseg": "LiteRT 2.3's GPU accelerator (software Vulkan) computes the int8 and dynamic-int8 files wrongly: "
             "33 % pixel agreement with its CPU, mIoU 9.2 against 78.2 (fp32/fp16 on the GPU are right); "
             "`benchmarks/results/camvid-rtseg/matrix.md`. Run the int8 file on the CPU, or the fp16 file on a GPU.",
}


def pct(x: float) -> str:
    return f"{x:.2f}"


def card(name: str) -> str:
    folder = ROOT / "models" / f"camvid-{name}"
    stem = folder.name
    m = json.loads((folder / "manifest.json").read_text())
    rep = json.loads((folder / "heldout.json").read_text())
    p, t, ds = m["protocol"], m["training"], m["dataset"]
    title, arch, dev = ARCH[name]
    h, w = m["model"]["input_size"]
    seqs = ", ".join(p["held_out_sequences"])
    held_frames = sum(p["held_out_frames"].values())
    trained = ", ".join(f"{k} {v}" for k, v in ds["sequences"].items())
    fp32, int8 = rep["held_out_model"]["rows"]
    ship = {r["artifact"].rsplit("/", 1)[-1]: r for r in rep["shipped_files_on_held_out_frames"]["rows"]}
    s_h5, s_q, s_onnx = ship[f"{stem}.h5"], ship[f"{stem}_int8.tflite"], ship[f"{stem}.onnx"]
    per_class = ", ".join(f"{c} {fp32['per_class_iou_pct'][c]:.1f} / {int8['per_class_iou_pct'][c]:.1f}"
                          for c in fp32["per_class_iou_pct"])
    weakest = sorted(fp32["per_class_iou_pct"].items(), key=lambda kv: kv[1])[:4]
    q_side = json.loads((folder / f"{stem}_int8.tflite.json").read_text())
    o_side = json.loads((folder / f"{stem}.onnx.json").read_text())
    qv, ov = q_side.get("parity") or {}, o_side.get("parity") or {}
    size_q = (folder / f"{stem}_int8.tflite").stat().st_size / 1e6
    final_cmd = p["final_run"].split(" ; ")[0]
    held_cmd = p["held_out_run"].split(" ; ")[0]
    return f"""# {stem} — {title} trained on CamVid under the held-out protocol

| | |
|---|---|
| architecture | {arch} |
| deviations | {dev} |
| data | CamVid, SegNet 11-class version, void (11) ignored. **Shipped weights: all {ds['count']} train + val frames** ({trained}), a fixed {t['epochs']}-epoch schedule, the last epoch's weights ({'EMA' if t['optimizer'].get('ema') else 'raw'}). The recipe and schedule were judged on sequence {seqs} held out (docs/train.md, "The protocol") |
| input | {h}x{w} RGB; `{stem}.h5` and `.onnx`: `(x/255 - mean)/std` with ImageNet mean/std (in the sidecar manifests); `{stem}_int8.tflite`: raw uint8 pixels (normalisation in the graph, scale 1, zero point 0), MediaPipe-ready metadata with `labels.txt` inside |
| output | per-pixel logits, {h}x{w}x11 (int8 file: uint8 logits, scale/zero point in the file and manifest) |

## Recipe (two runs: judge on a held-out sequence, then ship)

```bash
# 1. held-out run: trains without {seqs}, validates on its {held_frames} frames
{held_cmd}
# 2. final run: the same schedule on all {ds['count']} frames, no validation; best.h5 = the last epoch
{final_cmd}
# 3. the files, conversions and held-out figures of this card (heldout.json), then this card
.venv/bin/python {rep['command'].split(' ', 1)[1]}
.venv/bin/python scripts/model_card.py {name}
```

Precision {t['precision']} ({t.get('precision_reason', '')}); validation and files are float32. The final run
took {t['wall_time_s']:.0f} s on this 2-core machine (shared with other jobs). `history.csv` is the final run
(loss only); `heldout_history.csv` the held-out run, with the held-out mIoU of every validated epoch.

## Accuracy on the held-out sequence {seqs} ({held_frames} frames, labels at 360x480, void ignored)

The held-out run's model, which never saw {seqs}, scored with
`{fp32['command']}`
(the int8 file converted exactly like the shipped one, calibrated on that run's own training frames):

| file | runtime | mIoU | pixel acc |
|---|---|---|---|
| held-out model, fp32 `.h5` (epoch {p['held_out_best_epoch']}, its best validated; epoch {p['held_out_last_epoch']}: {pct(p['held_out_last_miou_pct'])}) | Keras | **{pct(fp32['miou_pct'])}** | {pct(fp32['pixel_accuracy_pct'])} % |
| held-out model, int8 `.tflite` (uint8 I/O) | LiteRT + XNNPACK | {pct(int8['miou_pct'])} ({int8['miou_pct'] - fp32['miou_pct']:+.2f}) | {pct(int8['pixel_accuracy_pct'])} % |

Per-class IoU (fp32 / int8): {per_class}.

The shipped files on the same frames (they trained on them: this is the cost of quantisation and
export, not a measure of quality): `.h5` {pct(s_h5['miou_pct'])}, int8 `.tflite` {pct(s_q['miou_pct'])}
({s_q['miou_pct'] - s_h5['miou_pct']:+.2f}), `.onnx` {pct(s_onnx['miou_pct'])}. Every figure, with the commands,
machine and versions, is in `heldout.json`. There is no val figure on this card: val is sequence 0016E5,
which the model trained on.

The int8 file ({size_q:.2f} MB) was made with
`edgeseg convert models/{stem}/{stem}.h5 --int8 --io uint8 --calib-count 200 --out models/{stem}`
(200 of the final run's frames, from its manifest; parity on val frames: {qv.get('agreement_pct', float('nan')):.2f} %
pixel agreement with Keras) and the ONNX file with
`edgeseg convert models/{stem}/{stem}.h5 --onnx --out models/{stem}` ({ov.get('agreement_pct', float('nan')):.2f} % agreement).

## Latency

The README's zoo table holds one `edgeseg bench` run of every shipped model on this machine (command
and date there); `benchmarks/RESULTS.md` has format x runtime matrices.

## Known limits

- Weakest classes on new footage (held-out IoU): {', '.join(f'{c} {v:.1f}' for c, v in weakest)}. A small
  network trained from scratch on {ds['count']} frames does not generalise thin classes to a new route.
- {seqs} is one route; CamVid's test split (Seq05VD + 0001TP) is scored outside this repository and its
  figures go into the issues.
- The int8 file expects raw RGB pixels 0..255 at {h}x{w}; edgeseg's runtime reads that from
  `{stem}_int8.tflite.json`, MediaPipe from the embedded metadata.
{('- ' + LIMITS[name] + chr(10)) if name in LIMITS else ''}"""


def main() -> int:
    for name in sys.argv[1:] or sys.exit("usage: model_card.py NAME [NAME ...]"):
        path = ROOT / "models" / f"camvid-{name}" / "MODEL_CARD.md"
        path.write_text(card(name))
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
