"""Time ``edgeseg convert MODEL.h5 --int8`` with 200 CamVid calibration images (target: <= 60 s wall).

Usage: .venv/bin/python benchmarks/convert_speed.py [MODEL.h5] [--camvid ../shared/camvid] [--count 200]
Without MODEL.h5 an untrained ENet (edgeseg.models, 360x480, default options) is built and saved first;
the conversion is then run as a subprocess exactly as a user would, and its wall time printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _build_enet(path: Path) -> None:
    from edgeseg.core.presets import CAMVID
    from edgeseg.models import registry

    registry.build("enet", CAMVID.num_classes, CAMVID.input_size).save(path)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", nargs="?", type=Path, default=None)
    p.add_argument("--camvid", type=Path, default=REPO.parent / "shared" / "camvid")
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--target", default="int8")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgeseg-convert-speed-") as work:
        model = args.model
        if model is None:
            model = Path(work) / "enet.h5"
            _build_enet(model)
        cmd = [str(REPO / ".venv" / "bin" / "edgeseg"), "convert", str(model), f"--{args.target}",
               "--calib-data", str(args.camvid), "--calib-count", str(args.count),
               "--verify-data", str(args.camvid), "--out", work, "--json"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-2000:])
            return proc.returncode
        art = json.loads(proc.stdout)["artifacts"][0]
        print(json.dumps({"command": " ".join(cmd), "wall_s": round(wall, 1), "limit_s": 60,
                          "calibration_images": args.count, "size_bytes": art["size_bytes"],
                          "parity": art["parity"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
