"""`make demo`: the main job on what the repository ships -- convert the shipped CamVid ENet to
int8 with the bundled sample frames, benchmark fp32 vs int8 (and the Keras baseline), and write a
report with overlays to out/demo/. Every step is the real `edgeseg` command, printed first."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "camvid-enet" / "camvid-enet.h5"
SAMPLES = REPO / "samples" / "camvid"
OUT = REPO / "out" / "demo"


def edgeseg(*args: str) -> None:
    """Run one edgeseg command as a user would, echoing it; stop the demo if it fails."""
    shown = " ".join(shlex.quote(str(a).replace(str(REPO) + "/", "")) for a in args)
    print(f"\n$ edgeseg {shown}", flush=True)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "edgeseg", *map(str, args)], cwd=REPO)
    if done.returncode != 0:
        sys.exit(f"demo: step failed (exit {done.returncode}): edgeseg {shown}")
    print(f"  ({time.perf_counter() - t0:.1f} s)", flush=True)


def main() -> int:
    if not MODEL.is_file():
        sys.stderr.write(f"error: the shipped model {MODEL.relative_to(REPO)} is missing\n")
        return 2
    start = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    stem = MODEL.stem
    edgeseg("data", "inspect", SAMPLES)
    edgeseg("convert", MODEL, "--fp32", "--int8", "--calib-data", SAMPLES, "--verify-data", SAMPLES,
            "--out", OUT, "--no-lint", "--force")
    fp32, int8 = OUT / f"{stem}_fp32.tflite", OUT / f"{stem}_int8.tflite"
    edgeseg("bench", MODEL, fp32, int8, "--threads", "2", "--data", SAMPLES, "--out", OUT / "report",
            "--json-out", OUT / "report" / "bench.json")
    edgeseg("predict", int8, *sorted((SAMPLES / "images").iterdir())[:3], "--out", OUT / "overlays")
    print(f"\ndemo done in {time.perf_counter() - start:.0f} s")
    print(f"  artifacts: {OUT.relative_to(REPO)}/{stem}_fp32.tflite, {stem}_int8.tflite (+ .json manifests)")
    print(f"  report:    {(OUT / 'report').relative_to(REPO)}/matrix.md, plots and overlays")
    print(f"  overlays:  {(OUT / 'overlays').relative_to(REPO)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
