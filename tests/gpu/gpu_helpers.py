"""Helpers of the GPU tests: the zoo folder, the frames used, and running gpu_parity.py without TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ZOO = HERE.parents[1] / "models"
#: Two of the bundled frames (the GPU is a software device here: ~1-3 s per ENet frame).
FRAMES = ("0016E5_07959", "0016E5_08159")


def run_tf_free(*args: str) -> dict:
    """``gpu_parity.py ARGS`` in a fresh process (no TensorFlow there); its JSON line."""
    proc = subprocess.run([sys.executable, str(HERE / "gpu_parity.py"), *args], capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
