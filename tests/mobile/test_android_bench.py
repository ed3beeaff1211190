"""`edgeseg bench --adb`: benchmark_model's log parsed into a bench result; adb commands built right.

No Android device was used: the fixture log follows the format printed by
tensorflow/lite/tools/benchmark/benchmark_model.cc (BenchmarkLoggingListener::OnBenchmarkEnd) and
benchmark_tflite_model.cc, as shown in tensorflow/lite/tools/benchmark/README.md (written from that
documented format, not copied from a real run).
"""

from __future__ import annotations

import json

import pytest

from edgeseg.bench.android import DEVICE_DIR, AndroidBench, parse_benchmark_output
from edgeseg.cli.main import main
from edgeseg.errors import RuntimeBackendError, UsageError

LOG = """\
INFO: STARTING!
INFO: Log parameter values verbosely: [0]
INFO: Num threads: [4]
INFO: Graph: [/data/local/tmp/edgeseg/enet_int8.tflite]
INFO: Use gpu: [1]
INFO: Loaded model /data/local/tmp/edgeseg/enet_int8.tflite
INFO: Created TensorFlow Lite delegate for GPU.
INFO: GPU delegate created.
INFO: Explicitly applied GPU delegate, and the model graph will be completely executed by the delegate.
INFO: The input model file size (MB): 0.102613
INFO: Initialized session in 131.25ms.
INFO: Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
INFO: count=61 first=24802 curr=7903 min=7688 max=24802 avg=8208.36 std=2171 p5=7702 median=7912 p95=8540

INFO: Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
INFO: count=125 first=7990 curr=7816 min=7611 max=9423 avg=7954.12 std=301 p5=7650 median=7880 p95=8519

INFO: Inference timings in us: Init: 131250, First inference: 24802, Warmup (avg): 8208.36, Inference (avg): 7954.12
INFO: Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
INFO: Memory footprint delta from the start of the tool (MB): init=38.1211 overall=41.4922
INFO: Overall peak memory footprint (MB) via periodic monitoring: 52.7031
"""


def test_parse_documented_log():
    r = parse_benchmark_output(LOG)
    lat = r["latency_ms"]
    assert lat["init"] == pytest.approx(131.25) and lat["first"] == pytest.approx(24.802)
    assert lat["mean"] == pytest.approx(7.95412) and lat["std"] == pytest.approx(0.301)
    assert lat["min"] == pytest.approx(7.611) and lat["p50"] == pytest.approx(7.88)
    assert r["runs"] == 125 and r["warmup"] == {"runs": 61, "mean_ms": pytest.approx(8.20836)}
    assert r["memory_mb"] == {"init_delta": 38.1211, "overall_delta": 41.4922, "peak": 52.7031}
    assert r["peak_rss_mb"] == 52.7031 and r["fps"] == pytest.approx(1e6 / 7954.12)


def test_parse_older_format_and_failure():
    old = ("INFO: count=50 first=900 curr=800 min=790 max=950 avg=812.5 std=20\n"
           "INFO: Inference timings in us: Init: 5000, First inference: 900, Warmup (avg): 850, Inference (avg): 812.5\n"
           "INFO: Peak memory footprint (MB): init=2.5 overall=3.25\n")
    r = parse_benchmark_output(old)
    assert r["runs"] == 50 and r["latency_ms"]["p50"] is None and r["peak_rss_mb"] == 3.25
    with pytest.raises(RuntimeBackendError, match="no inference timings.*Failed to apply GPU delegate"):
        parse_benchmark_output("INFO: Loaded model x\nERROR: Failed to apply GPU delegate.\n")


@pytest.fixture
def files(tmp_path, tiny_tflite):
    binary = tmp_path / "android_aarch64_benchmark_model"
    binary.write_bytes(b"\x7fELF")
    return tiny_tflite, binary


def test_commands_and_flags(files):
    model, binary = files
    b = AndroidBench(model, binary, serial="R58M123", delegate="gpu", threads=4, runs=20)
    cmds = b.commands()
    assert all(c[:3] == ["adb", "-s", "R58M123"] for c in cmds)
    assert cmds[1][3:] == ["push", str(model), f"{DEVICE_DIR}/{model.name}"]
    assert cmds[2][3:] == ["push", str(binary), f"{DEVICE_DIR}/{binary.name}"]
    run = cmds[-1][-1]
    for flag in ("--use_gpu=true", "--use_nnapi=false", "--use_xnnpack=false", "--num_threads=4", "--num_runs=20",
                 f"--graph={DEVICE_DIR}/{model.name}"):
        assert flag in run
    assert AndroidBench(model, binary).commands()[0][:2] == ["adb", "shell"]  # no serial: no -s
    with pytest.raises(UsageError):
        AndroidBench(model, binary, delegate="hexagon")


def test_cli_adb_uses_the_runner(files, monkeypatch, tmp_path, capsys):
    model, binary = files
    calls = []

    def fake(argv):
        calls.append(list(argv))
        return 0, LOG if argv[-1].startswith(f"{DEVICE_DIR}/") else ""

    monkeypatch.setattr("edgeseg.bench.android.run_subprocess", fake)
    out = tmp_path / "r.json"
    code = main(["bench", str(model), "--adb", "emulator-5554", "--benchmark-binary", str(binary),
                 "--accelerator", "npu", "--threads", "2", "--json", str(out)])
    assert code == 0 and len(calls) == 5
    assert "--use_nnapi=true" in calls[-1][-1] and "--num_threads=2" in calls[-1][-1]
    r = json.loads(out.read_text())
    assert r["latency_ms"]["mean"] == pytest.approx(7.95412) and r["runtime"] == "benchmark_model[nnapi]"
    assert "avg 7.954 ms" in capsys.readouterr().out


def test_cli_adb_errors(files, monkeypatch, capsys):
    model, binary = files
    assert main(["bench", str(model), "--adb"]) == 2
    assert "--benchmark-binary" in capsys.readouterr().err
    monkeypatch.setattr("edgeseg.bench.android.run_subprocess", lambda argv: (1, "error: no devices/emulators found"))
    assert main(["bench", str(model), "--adb", "--benchmark-binary", str(binary)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no devices/emulators found" in err[0]
