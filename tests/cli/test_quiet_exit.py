"""Native libraries' exit-time logs (LiteRT's accelerator teardown) stay off the terminal unless -v."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INT8 = ROOT / "models" / "camvid-enet" / "camvid-enet_int8.tflite"


def _bench(*extra: str) -> subprocess.CompletedProcess:
    code = "import sys; from edgeseg.cli.main import entry; sys.argv = ['edgeseg', *sys.argv[1:]]; entry()"
    return subprocess.run([sys.executable, "-c", code, "bench", str(INT8), "--backend", "litert-compiled",
                           "--runs", "2", "--warmup-runs", "0", "--min-time", "0", *extra],
                          capture_output=True, text=True, timeout=240, cwd=ROOT)


def test_no_native_teardown_lines_after_the_table() -> None:
    quiet = _bench()
    assert quiet.returncode == 0 and "camvid-enet_int8.tflite" in quiet.stdout
    assert "DestroyAccelerator" not in quiet.stderr and "INFO:" not in quiet.stderr
    loud = _bench("-v")  # asked for logs: the teardown lines are LiteRT's, and they show
    assert loud.returncode == 0 and "DestroyAccelerator" in loud.stderr
