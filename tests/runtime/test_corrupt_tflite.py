"""Corrupt .tflite files give one-line ModelErrors and never crash the process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from edgeseg.errors import ModelError
from edgeseg.runtime.tflite_check import verify_tflite


def test_structure_check_accepts_good_and_rejects_truncated(tiny, tmp_path):
    s = verify_tflite(tiny["fp32"])
    assert s.operators == 3 and s.op_types["CONV_2D"] == 2
    data = tiny["fp32"].read_bytes()
    bad = tmp_path / "half.tflite"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="corrupt .tflite"):
        verify_tflite(bad)
    wrong_id = tmp_path / "id.tflite"
    wrong_id.write_bytes(data[:4] + b"TFL2" + data[8:])
    with pytest.raises(ModelError):
        verify_tflite(wrong_id)


def test_cli_on_truncated_file_is_one_line(tiny, tmp_path):
    bad = tmp_path / "cut.tflite"
    bad.write_bytes(tiny["fp32"].read_bytes()[:3000])
    r = subprocess.run([sys.executable, "-m", "edgeseg", "bench", str(bad)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "corrupt" in lines[0] and "Traceback" not in r.stderr


def test_fuzzed_files_never_kill_the_process(tiny, tmp_path):
    """Truncations and byte flips in a subprocess: each either loads and runs or raises EdgesegError."""
    script = textwrap.dedent(f"""
        import random, numpy as np
        from edgeseg import runtime
        from edgeseg.errors import EdgesegError
        data = open({str(tiny['fp32'])!r}, 'rb').read()
        rng = random.Random(0)
        variants = [data[:n] for n in range(8, len(data), max(1, len(data) // 25))]
        for _ in range(60):
            b = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(0, min(len(b), 2048))
                b[i] = rng.randrange(256)
            variants.append(bytes(b))
        ok = err = 0
        for k, v in enumerate(variants):
            p = {str(tmp_path)!r} + f'/v{{k}}.tflite'
            open(p, 'wb').write(v)
            try:
                runtime.load(p, 'litert').run(np.zeros((1, 64, 64, 3), np.float32))
                ok += 1
            except EdgesegError as e:
                assert '\\n' not in str(e)
                err += 1
        print('done', ok, err)
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    done = [ln for ln in r.stdout.splitlines() if ln.startswith("done")]
    assert done, r.stdout
    _, ok, err = done[0].split()
    assert int(err) > 20  # every truncation at least
