"""Time ``edgeseg convert MODEL.h5 --int8`` with 200 CamVid calibration images (target: <= 60 s wall).

Usage: .venv/bin/python benchmarks/convert_speed.py [MODEL.h5] [--camvid ../shared/camvid] [--count 200]
                                                    [--activation relu|prelu] [--target int8]
Without MODEL.h5 an untrained ENet (``edgeseg.models.build('enet', 11, (360, 480, 3), activation=...)``)
is built and saved first. The conversion (with its default verification on up to 50 val frames) then
runs as a subprocess exactly as a user would run it; wall time, CPU time (user + sys of the child),
load average before/after, machine and versions are printed as JSON. The machine may be shared:
compare CPU time across runs, wall time only together with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _build_enet(path: Path, activation: str) -> None:
    from edgeseg.core.presets import CAMVID
    from edgeseg.models import build

    build("enet", CAMVID.num_classes, (*CAMVID.input_size, 3), activation=activation).save(path)


def main() -> int:
    from edgeseg.bench.system import machine_info, versions

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", nargs="?", type=Path, default=None)
    p.add_argument("--camvid", type=Path, default=REPO.parent / "shared" / "camvid")
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--target", default="int8")
    p.add_argument("--activation", default="relu", help="ENet activation when no model is given")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgeseg-convert-speed-") as work:
        model = args.model
        if model is None:
            model = Path(work) / "enet.h5"
            _build_enet(model, args.activation)
        cmd = [str(REPO / ".venv" / "bin" / "edgeseg"), "convert", str(model), f"--{args.target}",
               "--calib-data", str(args.camvid), "--calib-count", str(args.count),
               "--verify-data", str(args.camvid), "--out", work, "--json"]
        load_before = os.getloadavg()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-2000:])
            return proc.returncode
        art = json.loads(proc.stdout)["artifacts"][0]
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(json.dumps({"command": " ".join(cmd), "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                          "limit_s": 60, "loadavg_before": [round(v, 2) for v in load_before],
                          "loadavg_after": [round(v, 2) for v in os.getloadavg()],
                          "calibration_images": args.count, "size_bytes": art["size_bytes"],
                          "parity": art["parity"], "steps": [ln for ln in proc.stderr.splitlines()
                                                             if ln.startswith("[")],
                          "machine": machine_info(), "versions": versions()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
