"""On-device Android latency: push the model and TFLite's ``benchmark_model`` over adb, run it, parse its log.

The log format parsed here is the one ``tensorflow/lite/tools/benchmark/benchmark_model.cc``
(``BenchmarkLoggingListener::OnBenchmarkEnd``) and ``benchmark_tflite_model.cc`` print, as shown in
``tensorflow/lite/tools/benchmark/README.md``:

- ``Initialized session in 119.515ms.``
- ``Running benchmark for at least N iterations ...`` followed by a stats line
  ``count=.. first=.. curr=.. min=.. max=.. avg=.. std=.. [p5=.. median=.. p95=..]`` (us), once for
  the warm-up and once for the timed runs;
- ``Inference timings in us: Init: .., First inference: .., Warmup (avg): .., Inference (avg): ..``;
- ``Memory footprint delta from the start of the tool (MB): init=.. overall=..`` (older releases:
  ``Peak memory footprint (MB): init=.. overall=..``) and
  ``Overall peak memory footprint (MB) via periodic monitoring: ..``.

adb is run through a runner function (``Runner``) so tests replace it; nothing here was run on a device.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from edgeseg.errors import RuntimeBackendError, UsageError

#: ``runner(argv) -> (exit code, stdout+stderr)``.
Runner = Callable[[Sequence[str]], tuple[int, str]]
DEVICE_DIR = "/data/local/tmp/edgeseg"
DELEGATES = ("cpu", "xnnpack", "gpu", "nnapi")

_NUM = r"(-?[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?)"
_TIMINGS = re.compile(rf"Inference timings in us: Init: {_NUM}, First inference: {_NUM}, "
                      rf"Warmup \(avg\): {_NUM}, Inference \(avg\): {_NUM}")
_STATS = re.compile(rf"count=([0-9]+) first={_NUM} curr={_NUM} min={_NUM} max={_NUM} avg={_NUM} std={_NUM}"
                    rf"(?: p5={_NUM} median={_NUM} p95={_NUM})?")
_MEM = re.compile(rf"(?:Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\): "
                  rf"init={_NUM} overall={_NUM}")
_PEAK = re.compile(rf"Overall peak memory footprint \(MB\) via periodic monitoring: {_NUM}")
_INIT = re.compile(rf"Initialized session in {_NUM} ?ms")


def run_subprocess(argv: Sequence[str]) -> tuple[int, str]:
    """The real runner: one command, stdout and stderr together."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=600)
    except FileNotFoundError:
        raise RuntimeBackendError(f"{argv[0]}: not found (install Android platform-tools and put adb on PATH)") \
            from None
    except subprocess.TimeoutExpired:
        raise RuntimeBackendError(f"{' '.join(argv[:4])}: no answer in 600 s") from None
    return proc.returncode, proc.stdout + proc.stderr


def parse_benchmark_output(text: str) -> dict[str, Any]:
    """benchmark_model's log -> the ``latency_ms`` / memory fields of an edgeseg bench result.

    Raises:
        RuntimeBackendError: the log has no ``Inference timings`` line (the run failed).
    """
    m = _TIMINGS.search(text)
    if m is None:
        tail = " | ".join(ln.strip() for ln in text.strip().splitlines()[-3:])[:300]
        raise RuntimeBackendError(f"benchmark_model printed no inference timings (last lines: {tail or 'none'})")
    init_us, first_us, warm_us, avg_us = (float(v) for v in m.groups())
    stats = [s.groups() for s in _STATS.finditer(text)]
    timed = stats[-1] if stats else None
    lat: dict[str, Any] = {"init": init_us / 1e3, "first": first_us / 1e3, "mean": avg_us / 1e3,
                           "min": None, "max": None, "p50": None, "p90": None, "p99": None, "std": None}
    runs = None
    if timed is not None and abs(float(timed[5]) - avg_us) <= max(1.0, 1e-3 * avg_us):
        runs = int(timed[0])
        lat.update(min=float(timed[3]) / 1e3, max=float(timed[4]) / 1e3, std=float(timed[6]) / 1e3)
        if timed[8] is not None:
            lat["p50"] = float(timed[8]) / 1e3
    mem = _MEM.search(text)
    peak = _PEAK.search(text)
    init = _INIT.search(text)
    return {
        "latency_ms": lat,
        "fps": 1e6 / avg_us if avg_us > 0 else None,
        "runs": runs,
        "warmup": {"runs": int(stats[0][0]) if len(stats) > 1 else None, "mean_ms": warm_us / 1e3},
        "memory_mb": {"init_delta": float(mem.group(1)) if mem else None,
                      "overall_delta": float(mem.group(2)) if mem else None,
                      "peak": float(peak.group(1)) if peak else None},
        "peak_rss_mb": float(peak.group(1)) if peak else (float(mem.group(2)) if mem else None),
        "session_init_ms": float(init.group(1)) if init else None,
    }


@dataclass
class AndroidBench:
    """One on-device run of ``benchmark_model``."""

    artifact: Path
    binary: Path
    serial: str | None = None
    delegate: str = "xnnpack"  # cpu | xnnpack | gpu | nnapi
    threads: int | None = None
    runs: int = 50
    min_secs: float = 1.0
    warmup_runs: int = 1
    warmup_secs: float = 0.5
    adb: str = "adb"
    extra: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.delegate not in DELEGATES:
            raise UsageError(f"on-device delegate must be one of {', '.join(DELEGATES)}, got {self.delegate!r}")
        for p, what in ((self.artifact, "model"), (self.binary, "benchmark_model binary")):
            if not Path(p).is_file():
                raise UsageError(f"{what} {p}: no such file")

    def _adb(self, *args: str) -> list[str]:
        return [self.adb, *(["-s", self.serial] if self.serial else []), *args]

    def remote(self, path: Path) -> str:
        """Where a local file lands on the device."""
        return f"{DEVICE_DIR}/{Path(path).name}"

    def benchmark_args(self) -> list[str]:
        """benchmark_model's flags (names as in its README's parameter list)."""
        args = [f"--graph={self.remote(self.artifact)}", f"--num_runs={self.runs}", f"--min_secs={self.min_secs}",
                f"--warmup_runs={self.warmup_runs}", f"--warmup_min_secs={self.warmup_secs}",
                f"--use_gpu={str(self.delegate == 'gpu').lower()}",
                f"--use_nnapi={str(self.delegate == 'nnapi').lower()}",
                f"--use_xnnpack={str(self.delegate == 'xnnpack').lower()}",
                "--report_peak_memory_footprint=true"]
        if self.threads:
            args.append(f"--num_threads={self.threads}")
        return args + list(self.extra)

    def commands(self) -> list[list[str]]:
        """The adb commands, in order: make the folder, push model and binary, chmod, run."""
        binary = self.remote(self.binary)
        run = " ".join(shlex.quote(a) for a in [binary, *self.benchmark_args()])
        return [self._adb("shell", "mkdir", "-p", DEVICE_DIR),
                self._adb("push", str(self.artifact), self.remote(self.artifact)),
                self._adb("push", str(self.binary), binary),
                self._adb("shell", "chmod", "755", binary),
                self._adb("shell", run)]

    def run(self, runner: Runner | None = None) -> dict[str, Any]:
        """Run the commands (through ``runner``, default :func:`run_subprocess`); the parsed result, with the
        keys of a local bench result where they exist."""
        runner = runner or run_subprocess
        out = ""
        for argv in self.commands():
            code, out = runner(argv)
            if code != 0:
                last = " ".join(out.strip().splitlines()[-1:])[:200]
                raise RuntimeBackendError(f"{' '.join(argv[:4])} failed (exit {code}): {last or 'no output'}")
        result = parse_benchmark_output(out)
        result.update(artifact=str(self.artifact), format="tflite", runtime=f"benchmark_model[{self.delegate}]",
                      threads=self.threads, device={"serial": self.serial, "via": "adb"},
                      size_bytes=Path(self.artifact).stat().st_size, options={"delegate": self.delegate},
                      command=self.commands()[-1])
        return result
