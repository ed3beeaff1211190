"""Runtime, bench and ``edgeseg bench x.tflite`` load no TensorFlow; peak RSS stays small."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def test_imports_and_tflite_bench_load_no_tensorflow(tiny, tmp_path):
    out = tmp_path / "r.json"
    script = textwrap.dedent(f"""
        import json, sys
        import edgeseg.runtime, edgeseg.bench
        from edgeseg.cli.main import main, build_parser
        build_parser()
        assert not [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras', 'keras')], 'import'
        rc = main(['bench', {str(tiny['int8'])!r}, '--json', {str(out)!r}, '--runs', '5', '--min-time', '0',
                   '--warmup-time', '0'])
        bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras', 'keras')]
        print(json.dumps({{'rc': rc, 'tf': bad[:5]}}))
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res == {"rc": 0, "tf": []}
    report = json.loads(out.read_text())
    for key in ("latency_ms", "fps", "peak_rss_mb", "size_bytes", "delegated_ops", "runtime", "threads",
                "machine", "versions"):
        assert key in report
    assert set(report["latency_ms"]) >= {"init", "first", "min", "p50", "p90", "p99", "mean", "std"}
    assert report["precision"] == "int8" and report["runtime"] == "litert"
    assert 0 < report["peak_rss_mb"] <= 250
