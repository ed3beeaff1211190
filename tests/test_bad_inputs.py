"""Bad inputs through the real CLI (``python -m edgeseg``): one ``error:`` line, exit 2, nothing written.

Each case runs in its own subprocess (4 at a time). Almost all of them must be rejected before
TensorFlow loads (sniffing, dataset checks, flag validation); the few that need the model graph
(an unknown custom layer, a size that is not a multiple of the stride) are marked ``tf=True``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.reliability.badinput_fixtures import build

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "camvid"
IMG = SAMPLES / "images" / "0016E5_07959.jpg"
FAST = ["--runs", "1", "--min-time", "0", "--warmup-runs", "0", "--warmup-time", "0"]


@dataclass(frozen=True)
class Case:
    """``argv`` may use ``{F}`` (corpus), ``{O}`` (this case's output name), ``{S}`` (samples), ``{IMG}``."""

    id: str
    argv: tuple[str, ...]
    expect: str  # a fragment the one error line must contain (case-insensitive)
    outputs: tuple[str, ...] = ("{O}",)  # paths that must hold no file afterwards
    tf: bool = False  # allowed to load TensorFlow (slow: ~5-8 s)
    extra: dict[str, str] = field(default_factory=dict, hash=False)


def C(id: str, argv: str, expect: str, **kw) -> Case:  # noqa: N802, A002
    return Case(id, tuple(argv.split()), expect, **kw)


CASES = [
    # --- model files where a Keras .h5 is expected (convert, lint) ---
    C("h5-empty", "convert {F}/empty.h5 --fp32 --out {O}", "empty"),
    C("h5-truncated", "convert {F}/truncated.h5 --fp32 --out {O}", "truncated"),
    C("h5-random-bytes", "convert {F}/random.h5 --fp32 --out {O}", "unrecognised header"),
    C("h5-missing", "convert {F}/missing.h5 --fp32 --out {O}", "no such file"),
    C("h5-is-directory", "convert {F}/data --fp32 --out {O}", "directory"),
    C("tflite-given-for-h5", "convert {F}/tiny.tflite --fp32 --out {O}", "expected h5"),
    C("tflite-renamed-h5", "convert {F}/tflite_as.h5 --fp32 --out {O}", "expected h5"),
    C("plain-hdf5-not-keras", "convert {F}/plain.h5 --fp32 --out {O}", "no keras model"),
    C("lambda-untrusted", "convert {F}/lambda.h5 --fp32 --out {O}", "--trust-model"),
    C("lambda-untrusted-lint", "lint {F}/lambda.h5", "lambda"),
    C("lint-random-bytes", "lint {F}/random.h5", "unrecognised header"),
    C("custom-layer", "convert {F}/custom.h5 --fp32 --out {O}", "custom class 'Scale'", tf=True),
    # --- runtime artifacts: .tflite / .onnx (bench, predict) ---
    C("tflite-empty", "bench {F}/empty.tflite", "empty"),
    C("tflite-truncated", "bench {F}/truncated.tflite", "corrupt"),
    C("tflite-random-bytes", "bench {F}/random.tflite", "unrecognised header"),
    C("tflite-byte-flipped", "bench {F}/flipped.tflite", "corrupt"),
    C("tflite-truncated-predict", "predict {F}/truncated.tflite {IMG} --out {O}", "corrupt"),
    C("tflite-flipped-predict", "predict {F}/flipped.tflite {IMG} --out {O}", "corrupt"),
    C("onnx-empty", "bench {F}/empty.onnx", "empty"),
    C("onnx-truncated", "bench {F}/truncated.onnx", "onnx"),
    C("onnx-random-bytes", "bench {F}/random.onnx", "unrecognised header"),
    C("onnx-byte-flipped", "bench {F}/flipped.onnx", "onnx"),
    C("onnx-truncated-predict", "predict {F}/truncated.onnx {IMG} --out {O}", "onnx"),
    C("h5-given-for-tflite", "bench {F}/h5_as.tflite --backend litert", "h5 file"),
    C("h5-given-for-onnx", "predict {F}/tiny.h5 {IMG} --backend onnxruntime --out {O}", "h5 file"),
    C("onnx-given-for-litert", "bench {F}/tiny.onnx --backend litert", "onnx file"),
    # --- dataset folders ---
    C("data-missing", "data inspect {F}/data/missing", "no such dataset folder"),
    C("data-empty", "data inspect {F}/data/empty", "no images/"),
    # (data inspect lists unpaired files as problems with exit 1, tests/cli/test_cli_conventions.py)
    C("data-unpaired", "bench {F}/tiny.tflite --data {F}/data/unpaired " + " ".join(FAST), "no label map"),
    C("calib-missing", "convert {F}/tiny.h5 --int8 --calib-data {F}/data/missing --out {O}", "no such dataset"),
    C("calib-empty-folder", "convert {F}/tiny.h5 --int8 --calib-data {F}/data/empty --out {O}", "no images"),
    C("calib-zero-images", "convert {F}/tiny.h5 --int8 --calib-data {F}/data/noimages --out {O}", "no images found"),
    C("calib-count-zero", "convert {F}/tiny.h5 --int8 --calib-data {S} --calib-count 0 --out {O}", "--calib-count"),
    C("calib-none-given", "convert {F}/tiny.h5 --int8 --out {O}", "calibration"),
    C("calib-unreadable-image", "convert {F}/tiny.h5 --int8 --calib-data {F}/data/unreadable --out {O}",
      "c.png: not a readable image"),
    C("calib-non-image-file", "convert {F}/tiny.h5 --int8 --calib-data {F}/data/nonimage --out {O}",
      "notes.txt: not an image file"),
    C("calib-grayscale", "convert {F}/tiny.h5 --int8 --calib-data {F}/data/grayscale --out {O}", "grayscale"),
    C("calib-rgba", "convert {F}/tiny.h5 --int8 --calib-data {F}/data/rgba --out {O}", "rgba"),
    C("verify-16bit-mask", "convert {F}/tiny.h5 --fp32 --verify-data {F}/data/mask16 --out {O}", "16/32-bit"),
    C("verify-label-above-classes", "convert {F}/tiny.h5 --fp32 --verify-data {F}/data/badlabel --out {O}",
      "label value 40"),
    C("bench-data-label-above-classes", "bench {F}/tiny.tflite --data {F}/data/badlabel --json {O} " + " ".join(FAST),
      "label value 40"),
    C("predict-unreadable-image", "predict {F}/tiny.tflite {F}/data/unreadable/images --out {O}",
      "not a readable image"),
    C("predict-missing-image", "predict {F}/tiny.tflite {F}/nope.png --out {O}", "no such image"),
    # --- input sizes ---
    C("size-not-stride-multiple-train", "train --model enet --data {S} --input-size 100x100 --out {O}",
      "output stride 8", tf=True),
    C("size-not-stride-multiple-convert", "convert {F}/dynamic.h5 --fp32 --preset camvid --input-size 33x33 "
      "--out {O}", "multiple of its output stride", tf=True),
    C("size-garbage", "convert {F}/tiny.h5 --fp32 --input-size big --out {O}", "hxw"),
    # --- output locations ---
    C("out-is-file-convert", "convert {F}/tiny.h5 --fp32 --out {F}/a_file", "is a file", outputs=()),
    C("out-under-file-convert", "convert {F}/tiny.h5 --fp32 --out {F}/a_file/sub", "a_file", outputs=()),
    C("out-is-file-predict", "predict {F}/tiny.tflite {IMG} --out {F}/a_file", "is a file", outputs=()),
    C("out-in-proc-predict", "predict {F}/tiny.tflite {IMG} --out /proc/edgeseg-out", "/proc/edgeseg-out",
      outputs=("/proc/edgeseg-out",)),
    C("out-in-proc-convert", "convert {F}/tiny.h5 --fp32 --out /proc/edgeseg-out", "/proc/edgeseg-out",
      outputs=("/proc/edgeseg-out",)),
    C("json-under-file-bench", "bench {F}/tiny.tflite --json {F}/a_file/r.json " + " ".join(FAST), "a_file",
      outputs=()),
    # --- flags ---
    C("unknown-flag-convert", "convert {F}/tiny.h5 --fp32 --bogus --out {O}", "unrecognized arguments"),
    C("unknown-flag-bench", "bench {F}/tiny.tflite --frobnicate", "unrecognized arguments"),
    C("unknown-command", "frobnicate", "invalid choice"),
    C("no-target", "convert {F}/tiny.h5 --out {O}", "no export target"),
    C("preset-and-spec", "convert {F}/tiny.h5 --fp32 --preset camvid --spec {F}/a_file --out {O}", "not both"),
    C("folder-and-images", "data inspect {S} --images {S}/images --masks {S}/masks", "not both"),
    C("calib-data-without-matrix", "bench {F}/tiny.tflite --calib-data {S}", "--matrix"),
    C("qat-without-from", "train --qat --model unet --data {S} --out {O}", "--from"),
    C("unknown-backend", "predict {F}/tiny.tflite {IMG} --backend warp9 --out {O}", "unknown backend"),
    C("bad-choice", "convert {F}/tiny.h5 --int8 --calib-method magic --out {O}", "invalid choice"),
    C("runs-zero", "bench {F}/tiny.tflite --runs 0", "--runs"),
    C("threads-0-bench", "bench {F}/tiny.tflite --threads 0", "--threads"),
    C("threads-0-predict", "predict {F}/tiny.tflite {IMG} --threads 0 --out {O}", "threads"),
    C("threads-0-convert", "convert {F}/tiny.h5 --fp32 --threads 0 --out {O}", "--threads"),
    C("threads-0-train", "train --model unet --data {S} --threads 0 --out {O}", "--threads must be >= 1"),
    C("batch-0-train", "train --model unet --data {S} --batch-size 0 --out {O}", "--batch-size must be >= 1"),
]


def _fill(text: str, f: Path, o: Path) -> str:
    return text.format(F=f, O=o, S=SAMPLES, IMG=IMG)


# `python -m edgeseg ARGS` with an exit hook that writes whether `tensorflow` was imported (the module
# list at exit, so a case that loads TensorFlow and then fails is seen whatever its speed).
_PROBE = ("import atexit, runpy, sys\n"
          "def _probe(path=sys.argv.pop(1)):\n"
          "    open(path, 'w').write(str('tensorflow' in sys.modules))\n"
          "atexit.register(_probe)\n"
          "sys.argv[0] = 'edgeseg'\n"
          "runpy.run_module('edgeseg', run_name='__main__', alter_sys=True)\n")


def _run(case: Case, corpus: Path, work: Path) -> dict:
    out = work / case.id
    probe = work / f"{case.id}.modules"
    argv = [sys.executable, "-c", _PROBE, str(probe), *(_fill(a, corpus, out) for a in case.argv)]
    env = {**os.environ, "NO_COLOR": "1", **case.extra}
    t0 = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, cwd=work)
    secs = time.perf_counter() - t0
    tf_loaded = probe.read_text() if probe.exists() else "no exit hook ran"
    return {"rc": r.returncode, "stdout": r.stdout, "stderr": r.stderr, "secs": secs, "out": out,
            "outputs": [Path(_fill(p, corpus, out)) for p in case.outputs], "tf_loaded": tf_loaded}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.getbasetemp() / "edgeseg_bad_inputs")


@pytest.fixture(scope="session")
def results(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every case, run once, 4 subprocesses at a time (slow TensorFlow cases first)."""
    work = tmp_path_factory.mktemp("bad_inputs_out")
    order = sorted(CASES, key=lambda c: not c.tf)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {c.id: pool.submit(_run, c, corpus, work) for c in order}
        return {k: f.result() for k, f in futures.items()}


def test_enough_distinct_cases():
    assert len({c.id for c in CASES}) == len(CASES) >= 30
    assert sum(c.tf for c in CASES) <= 3  # the rest must fail before TensorFlow loads


def _files_under(p: Path) -> list[Path]:
    if p.is_file():
        return [p]
    return [q for q in p.rglob("*") if q.is_file()] if p.is_dir() else []


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, results: dict[str, dict]) -> None:
    r = results[case.id]
    detail = f"rc={r['rc']} stderr={r['stderr'][-1500:]!r}"
    assert r["rc"] == 2, detail
    lines = r["stderr"].splitlines()
    assert len(lines) == 1, detail
    assert lines[0].startswith("error: ") and "Traceback" not in r["stderr"], detail
    assert case.expect.lower() in lines[0].lower(), detail
    left = [f for p in r["outputs"] for f in _files_under(p)]
    assert not left, f"files left behind: {left}"
    if not case.tf:
        assert r["secs"] < 30, f"{case.id} took {r['secs']:.1f} s; it should fail before TensorFlow loads"
        assert r["tf_loaded"] == "False", f"{case.id}: tensorflow imported: {r['tf_loaded']}"


def test_tensorflow_probe_sees_tensorflow(results: dict[str, dict]) -> None:
    """Mutation: the cases that need the model graph load TensorFlow, and the probe reports it."""
    tf_cases = [c.id for c in CASES if c.tf]
    assert tf_cases and all(results[k]["tf_loaded"] == "True" for k in tf_cases), \
        {k: results[k]["tf_loaded"] for k in tf_cases}
