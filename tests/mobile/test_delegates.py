"""External delegates, NPU dispatch and GPU through `edgeseg bench`: options parsed and passed, one-line errors."""

from __future__ import annotations

import pytest

from edgeseg.cli.main import main
from edgeseg.errors import RuntimeBackendError, UsageError
from edgeseg.runtime.delegates import dispatch_dir, load_external_delegate, parse_delegate_options

FAST = ["--runs", "2", "--min-time", "0", "--warmup-time", "0", "--no-isolate"]
FAST_ISOLATED = FAST[:-1]


def test_parse_delegate_options():
    assert parse_delegate_options(["device=usb", " cache_dir = /tmp/x "]) == {"device": "usb", "cache_dir": "/tmp/x"}
    assert parse_delegate_options(None) == {}
    for bad in (["novalue"], ["=x"], ["a=1", "a=2"]):
        with pytest.raises(UsageError):
            parse_delegate_options(bad)


def test_options_reach_the_loader(tmp_path):
    lib = tmp_path / "libedgetpu.so.1"
    lib.write_bytes(b"\x7fELF")
    seen = {}
    assert load_external_delegate(lib, {"device": "usb", "n": 2},
                                  loader=lambda path, opts: seen.update(path=path, opts=opts) or "D") == "D"
    assert seen == {"path": str(lib), "opts": {"device": "usb", "n": "2"}}


def test_backend_passes_the_loaded_delegate(tiny_tflite, tmp_path, monkeypatch):
    """The litert backend hands the loaded delegate to the Interpreter (a fake that takes nothing)."""
    from edgeseg import runtime

    lib = tmp_path / "libvendor_delegate.so"
    lib.write_bytes(b"\x7fELF")
    got = {}

    def fake(path, options):
        got.update(path=path, options=options)
        raise ValueError("Failed to load delegate from libvendor_delegate.so")

    monkeypatch.setattr("edgeseg.runtime.delegates._default_loader", fake)
    with pytest.raises(RuntimeBackendError, match="cannot be loaded as a TFLite delegate"):
        runtime.load(tiny_tflite, "litert", delegate=str(lib), delegate_options={"k": "v"})
    assert got == {"path": str(lib), "options": {"k": "v"}}


def _one_line_error(capsys) -> str:
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(err) == 1
    return err[0]


def test_cli_missing_and_invalid_delegate(tiny_tflite, tmp_path, capsys):
    assert main(["bench", str(tiny_tflite), "--delegate", str(tmp_path / "nope.so")] + FAST) == 2
    assert "no such file" in _one_line_error(capsys)
    bogus = tmp_path / "libbogus.so"
    bogus.write_text("not a shared object")
    assert main(["bench", str(tiny_tflite), "--delegate", str(bogus), "--delegate-option", "device=usb"] + FAST) == 2
    assert "cannot be loaded as a TFLite delegate" in _one_line_error(capsys)
    assert main(["bench", str(tiny_tflite), "--delegate-option", "device=usb"] + FAST) == 2
    assert "needs --delegate" in _one_line_error(capsys)
    assert main(["bench", str(tiny_tflite), "--delegate", str(bogus), "--delegate-option", "oops"] + FAST) == 2


def test_cli_npu_dispatch(tiny_tflite, tmp_path, capsys):
    assert main(["bench", str(tiny_tflite), "--npu-dispatch", str(tmp_path / "libLiteRtDispatch_X.so")] + FAST) == 2
    assert "NPU dispatch library" in _one_line_error(capsys)
    empty = tmp_path / "dispatch"
    empty.mkdir()
    with pytest.raises(RuntimeBackendError, match="holds no libLiteRtDispatch"):
        dispatch_dir(empty)
    lib = empty / "libLiteRtDispatch_Vendor.so"
    lib.write_bytes(b"\x7fELF")
    assert dispatch_dir(lib) == dispatch_dir(empty) == str(empty.resolve())


def test_dispatch_reaches_the_environment(tiny_tflite, tmp_path, monkeypatch):
    """--npu-dispatch becomes LiteRT's Environment(dispatch_library_path=<folder>) for CompiledModel."""
    from edgeseg import runtime

    lib = tmp_path / "libLiteRtDispatch_Vendor.so"
    lib.write_bytes(b"\x7fELF")
    seen = {}

    def fake_create(**kw):
        seen.update(kw)
        raise RuntimeError("cannot load dispatch")

    monkeypatch.setattr("ai_edge_litert.environment.Environment.create", staticmethod(fake_create))
    with pytest.raises(RuntimeBackendError, match="LiteRT cannot use it"):
        runtime.load(tiny_tflite, "litert-compiled", accelerator="npu", dispatch=str(lib))
    assert seen == {"dispatch_library_path": str(tmp_path.resolve())}
    with pytest.raises(UsageError, match="needs --accelerator npu"):
        runtime.load(tiny_tflite, "litert-compiled", accelerator="gpu", dispatch=str(lib))


def test_gpu_accelerator(tiny_tflite, tmp_path, capsys):
    """A Vulkan device (a software one counts) -> the run records that device and integer placement; none -> one
    line that says so. The bench runs in its own process: this one holds TensorFlow."""
    import json

    from edgeseg.runtime import vulkan

    out = tmp_path / "gpu.json"
    code = main(["bench", str(tiny_tflite), "--backend", "litert-compiled", "--accelerator", "gpu",
                 "--json", str(out)] + FAST_ISOLATED)
    devices = vulkan.devices()
    if not devices:
        line = _one_line_error(capsys)
        assert code == 2 and "--accelerator gpu: no usable GPU here" in line
        return
    assert code == 0, capsys.readouterr().err[-2000:]
    r = json.loads(out.read_text())
    ops = r["delegated_ops"]
    assert ops["delegate"] == "GPU" and isinstance(ops["delegated"], int) and ops["delegated"] == ops["total"] == 1
    assert ops["cpu"] == 0 and ops["unsupported"] == {}
    dev = r["device"]
    assert dev["name"] == devices[0]["name"] and dev["software"] is devices[0]["software"]
    table = capsys.readouterr().out
    assert "litert-compiled/gpu" in table
    if dev["software"]:
        assert "not GPU speed" in r["latency_note"] and "software" in table and "not GPU speed" in table


def test_gpu_json_on_stdout_is_only_json(tiny_tflite):
    """LiteRT's GPU accelerator prints on fd 1 while it compiles (its OpenCL probe): `--json -` stays JSON."""
    import json
    import subprocess
    import sys

    from edgeseg.runtime import vulkan

    if not vulkan.devices():
        pytest.skip(f"needs a Vulkan device: {vulkan.summary()}")
    proc = subprocess.run([sys.executable, "-m", "edgeseg", "bench", str(tiny_tflite), "--backend", "litert-compiled",
                           "--accelerator", "gpu", "--json", "-"] + FAST_ISOLATED, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["device"]["name"] == vulkan.devices()[0]["name"]


def test_gpu_with_keras_in_one_process_is_refused(tiny_tflite, capsys):
    """--no-isolate would create the GPU accelerator beside TensorFlow, which this process holds (a segfault):
    one line instead, before any driver is touched."""
    import sys

    assert "tensorflow" in sys.modules  # the tiny_tflite fixture converted with it
    code = main(["bench", str(tiny_tflite), "--backend", "litert-compiled", "--accelerator", "gpu"] + FAST)
    assert code == 2 and "--no-isolate cannot run --accelerator gpu" in _one_line_error(capsys)


def test_npu_without_dispatch_library_is_refused(tiny_tflite, capsys):
    """LiteRT would silently run on the CPU and call it fully accelerated: edgeseg says no NPU instead."""
    code = main(["bench", str(tiny_tflite), "--backend", "litert-compiled", "--accelerator", "npu"] + FAST)
    line = _one_line_error(capsys)
    assert code == 2 and "--accelerator npu: no usable NPU here" in line and "--npu-dispatch" in line
