#!/usr/bin/env python3
"""Ship a zoo model trained under the protocol of docs/train.md ("Choosing on a held-out sequence").

    .venv/bin/python scripts/ship_model.py enet [--final runs/enet-final] [--holdout runs/enet-holdout]

Two runs make a shipped model: the *held-out* run (trained without the held-out sequences, validated on
them) measured the recipe; the *final* run trained the same schedule on every frame. This script

1. copies the final run's ``best.h5`` (the last epoch's EMA weights), ``history.csv`` and manifest into
   ``models/camvid-<name>/``, with the held-out run's history as ``heldout_history.csv`` and a
   ``protocol`` section in the manifest;
2. converts the shipped model to int8 (uint8 I/O, MediaPipe metadata) and fp32 ONNX, calibrating on
   the final run's frames;
3. converts the held-out run's model to int8 the same way (calibrated on its own training frames) and
   scores both precisions on the held-out sequences, and the shipped files on them too;
4. writes ``models/camvid-<name>/heldout.json``: every figure, the commands, machine and versions.

Needs ``../shared/camvid``. Overwrites the model's folder (it is the maintainer's shipping step).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EDGESEG = [str(ROOT / ".venv" / "bin" / "edgeseg")]
DATA = "../shared/camvid"


def sh(args: list[str]) -> None:
    print("$", " ".join(args), flush=True)
    subprocess.run(args, check=True, cwd=ROOT)


def history(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def bench(files: list[Path], sequences: str, out: Path) -> tuple[list[dict], dict]:
    """Score ``files`` on the held-out sequences: the kept columns of each row, and the run's machine/versions."""
    cmd = [*EDGESEG, "bench", *map(str, files), "--data", DATA, "--split", "train", "--sequences", sequences,
           "--threads", "2", "--json-out", str(out)]
    sh(cmd)
    doc = json.loads(out.read_text())
    keep = ("artifact", "format", "precision", "runtime", "threads", "miou_pct", "pixel_accuracy_pct",
            "per_class_iou_pct", "images")
    def short(text: str) -> str:  # paths as typed from the repository root; the temporary folder by name
        return text.replace(str(ROOT) + "/", "").replace(str(out.parent), "<tmp>")

    rows = [{**{k: r.get(k) for k in keep}, "artifact": short(r["artifact"]),
             "command": short(" ".join(["edgeseg", *cmd[1:]]))} for r in doc["results"]]
    return rows, {"machine": doc.get("machine"), "versions": doc.get("versions")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name", help="zoo name: enet, unet, linknet, rtseg, ...")
    p.add_argument("--final", type=Path, help="final run folder (default runs/<name>-final)")
    p.add_argument("--holdout", type=Path, help="held-out run folder (default runs/<name>-holdout)")
    a = p.parse_args()
    final = (a.final or ROOT / "runs" / f"{a.name}-final").resolve()
    held = (a.holdout or ROOT / "runs" / f"{a.name}-holdout").resolve()
    stem = f"camvid-{a.name}"
    dest = ROOT / "models" / stem
    mf, mh = json.loads((final / "manifest.json").read_text()), json.loads((held / "manifest.json").read_text())
    tf, th = mf["training"], mh["training"]
    if tf["epochs_done"] != tf["epochs"] or th["epochs_done"] != th["epochs"]:
        sys.exit(f"unfinished run: final {tf['epochs_done']}/{tf['epochs']}, held-out {th['epochs_done']}/{th['epochs']}")
    sequences = mh["dataset"]["val_holdout"]
    rows = [r for r in history(held / "history.csv") if r.get("val_miou")]
    last = rows[-1]

    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.iterdir():
        if old.is_file() and old.name != "MODEL_CARD.md":
            old.unlink()
    shutil.copyfile(final / "best.h5", dest / f"{stem}.h5")
    shutil.copyfile(final / "history.csv", dest / "history.csv")
    shutil.copyfile(held / "history.csv", dest / "heldout_history.csv")
    ds = dict(mf["dataset"])
    ds["path"] = str(Path("..") / ".." / DATA)  # relative to models/<stem>/, as the manifest reads it
    ds.pop("path_abs", None)
    mf["dataset"] = ds
    mf["training"]["args"]["out"] = str(final.relative_to(ROOT))
    mf["protocol"] = {
        "held_out_sequences": sequences.split(","),
        "held_out_run": th["command"],
        "held_out_frames": mh["dataset"]["val_sequences"],
        "held_out_epochs": th["epochs"],
        "held_out_last_epoch": int(last["epoch"]),
        "held_out_last_miou_pct": round(100 * float(last["val_miou"]), 2),
        "held_out_best_epoch": th["best_epoch"],
        "held_out_best_miou_pct": th["best_val_miou_pct"],
        "final_run": tf["command"],
        "note": "recipe and epochs chosen on the held-out sequences; the shipped weights are the final run's "
                "last epoch (EMA), trained on every frame with the same schedule",
    }
    (dest / "manifest.json").write_text(json.dumps(mf, indent=2, sort_keys=True) + "\n")
    (dest / "labels.txt").write_text("\n".join(mf["spec"]["class_names"]) + "\n")

    h5 = dest / f"{stem}.h5"
    sh([*EDGESEG, "convert", str(h5), "--int8", "--io", "uint8", "--calib-count", "200", "--out", str(dest)])
    sh([*EDGESEG, "convert", str(h5), "--onnx", "--out", str(dest)])

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        sh([*EDGESEG, "convert", str(held / "best.h5"), "--int8", "--io", "uint8", "--calib-count", "200",
            "--out", str(t)])
        held_rows, _ = bench([held / "best.h5", t / "best_int8.tflite"], sequences, t / "held.json")
        ship_rows, where = bench([h5, dest / f"{stem}_int8.tflite", dest / f"{stem}.onnx"], sequences, t / "ship.json")
    report = {
        "what": f"{stem}: held-out-sequence figures under the protocol (mIoU in %)",
        "held_out_sequences": sequences.split(","),
        "held_out_model": {"run": str(held.relative_to(ROOT)), "epoch": th["best_epoch"], "rows": held_rows,
                           "int8_drop_pts": round(held_rows[0]["miou_pct"] - held_rows[1]["miou_pct"], 2)},
        "shipped_files_on_held_out_frames": {
            "note": "the shipped model trained on these frames too: quantisation cost only, not quality",
            "rows": ship_rows,
            "int8_drop_pts": round(ship_rows[0]["miou_pct"] - ship_rows[1]["miou_pct"], 2)},
        "command": " ".join(["python", "scripts/ship_model.py", *sys.argv[1:]]),
        **where,
    }
    (dest / "heldout.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k]["int8_drop_pts"] for k in ("held_out_model", "shipped_files_on_held_out_frames")}))
    print(f"held-out model: fp32 {held_rows[0]['miou_pct']:.2f} %, int8 {held_rows[1]['miou_pct']:.2f} % "
          f"(epoch {th['best_epoch']}; epoch {last['epoch']}: {100 * float(last['val_miou']):.2f} %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
