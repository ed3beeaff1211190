"""Backend parity, quantised I/O, delegation counting, option and format errors."""

from __future__ import annotations

import numpy as np
import pytest

from edgeseg import runtime
from edgeseg.errors import ModelError, RuntimeBackendError, UsageError
from tests.runtime.backend_base import check_int8_logits


@pytest.fixture(scope="module")
def batch(samples_dir):
    from edgeseg.core.dataset import FolderDataset
    from edgeseg.core.presets import CAMVID
    from edgeseg.core.preprocess import preprocess

    ds = FolderDataset(samples_dir / "images", samples_dir / "masks", CAMVID)
    return np.stack([preprocess(ds.read_image(i), CAMVID, (64, 64)) for i in (0, 5)])


@pytest.fixture(scope="module")
def reference(batch):
    """Keras' logits on ``batch``, committed beside the tiny model (tests/test_fixtures.py re-runs Keras where
    TensorFlow is installed), so the parity checks run on a device install too."""
    from tests.fixtures import tiny

    ref_batch, logits = tiny.reference()
    np.testing.assert_allclose(batch, ref_batch, atol=1e-6, err_msg="the batch the reference was computed on")
    return logits


# Each backend's parity with Keras (float and int8 files) is checked by its BackendTester subclass
# (tests/runtime/test_backend_<name>.py, limits in tests/runtime/backend_base.py); here: that the int8 limits
# catch broken quantisation, and engine-specific behaviour.


@pytest.mark.parametrize("mutation", ["output zero point dropped", "output scale 5 % off", "input zero point dropped",
                                      "BGR fed to an RGB model"])
def test_int8_check_catches_broken_quantisation(tiny, batch, reference, monkeypatch, mutation):
    """Each tolerance of check_int8_logits (backend_base) has a broken runtime it must reject: it is not vacuous."""
    from edgeseg.core import preprocess

    quantize, dequantize = preprocess.quantize, preprocess.dequantize
    x = batch
    if mutation == "output zero point dropped":
        monkeypatch.setattr(preprocess, "dequantize", lambda q, scale, zp: dequantize(q, scale, 0))
    elif mutation == "output scale 5 % off":
        monkeypatch.setattr(preprocess, "dequantize", lambda q, scale, zp: dequantize(q, scale * 1.05, zp))
    elif mutation == "input zero point dropped":
        monkeypatch.setattr(preprocess, "quantize", lambda v, scale, zp, dtype: quantize(v, scale, 0, dtype))
    else:
        x = np.ascontiguousarray(batch[..., ::-1])
    y = runtime.load(tiny["int8"], "litert", threads=1).run(x)
    with pytest.raises(AssertionError):
        check_int8_logits(y, reference)


def test_quantize_and_dequantize_by_hand():
    from edgeseg.core.preprocess import dequantize, quantize

    # round(x / 0.5) - 3, clipped to int8; np.rint rounds half to even (0.25 / 0.5 = 0.5 -> 0)
    q = quantize(np.array([0.0, 0.25, 1.0, -1.0, 100.0, -100.0]), 0.5, -3, np.int8)
    assert q.dtype == np.int8 and q.tolist() == [-3, -3, -1, -5, 127, -128]
    u = quantize(np.array([-1.0, 0.0, 1.0, 300.0]), 1.0, 10, np.uint8)
    assert u.dtype == np.uint8 and u.tolist() == [9, 10, 11, 255]
    d = dequantize(np.array([-3, -1, 127], np.int8), 0.5, -3)
    assert d.dtype == np.float32 and d.tolist() == [0.0, 1.0, 65.0]
    x = np.linspace(-2, 2, 101, dtype=np.float32)  # inside the int8 range at this scale: error at most scale / 2
    assert np.abs(dequantize(quantize(x, 0.02, 5, np.int8), 0.02, 5) - x).max() <= 0.01 + 1e-6

def test_delegated_ops_counts_xnnpack_partitions(tiny):
    full = runtime.load(tiny["fp32"], "litert").delegated_ops()
    assert full["delegated"] == full["total"] == 3 and full["fallback"] == {}
    # Free batch axis: TRANSPOSE_CONV gets a runtime output shape (SHAPE/STRIDED_SLICE/PACK), XNNPACK skips them.
    dyn = runtime.load(tiny["dynamic"], "litert").delegated_ops()
    assert dyn["total"] == 6 and dyn["delegated"] == 2
    assert dyn["fallback"] == {"SHAPE": 1, "STRIDED_SLICE": 1, "PACK": 1, "TRANSPOSE_CONV": 1}
    off = runtime.load(tiny["fp32"], "litert", xnnpack=False).delegated_ops()
    assert off["delegated"] == 0 and off["total"] == 3


def test_compiled_model_dynamic_output_is_a_one_line_error(tiny, batch):
    be = runtime.load(tiny["dynamic"], "litert-compiled")
    with pytest.raises(RuntimeBackendError, match="fixed batch") as exc:
        be.run(batch[:1])
    assert "\n" not in str(exc.value)


def test_missing_accelerator_is_a_one_line_error(tiny, tmp_path):
    """No GPU driver: the Vulkan loader pointed at none (a software device would be a device). In a process
    without TensorFlow, as the GPU needs."""
    import ctypes.util
    import os
    import subprocess
    import sys

    if ctypes.util.find_library("OpenCL"):
        pytest.skip("an OpenCL driver is installed: LiteRT's GPU accelerator could use it without Vulkan")
    none = str(tmp_path / "no_icd.json")
    env = {**os.environ, "VK_ICD_FILENAMES": none, "VK_DRIVER_FILES": none}
    proc = subprocess.run([sys.executable, "-m", "edgeseg", "bench", str(tiny["fp32"]), "--backend", "litert-compiled",
                           "--accelerator", "gpu", "--runs", "1", "--min-time", "0"], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 2 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "--accelerator gpu: no usable GPU here" in errors[0] and "no Vulkan device" in errors[0]


def test_gpu_beside_tensorflow_is_refused_in_one_line(tiny):
    """Creating LiteRT's GPU accelerator after `import tensorflow` segfaults: refused before it is created."""
    import sys

    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (device install): nothing to refuse")

    assert "tensorflow" in sys.modules
    with pytest.raises(RuntimeBackendError, match="TensorFlow is loaded in this process") as exc:
        runtime.load(tiny["fp32"], "litert-compiled", accelerator="gpu")
    assert "\n" not in str(exc.value)


def test_onnx_missing_provider_and_bad_options(tiny):
    with pytest.raises(RuntimeBackendError, match="not available"):
        runtime.load(tiny["onnx"], providers="qnn")
    with pytest.raises(UsageError, match="no option"):
        runtime.load(tiny["onnx"], xnnpack=False)
    with pytest.raises(UsageError, match="unknown backend"):
        runtime.load(tiny["onnx"], "tensorrt-llm")
    with pytest.raises(ModelError, match="onnx file"):
        runtime.load(tiny["onnx"], "litert")
    with pytest.raises(UsageError, match="threads"):
        runtime.load(tiny["fp32"], threads=0)


def test_onnx_profile_lists_nodes(tiny, batch):
    be = runtime.load(tiny["onnx"], graph_opt="basic", threads=1)
    prof = be.profile(batch[:1], runs=2)
    assert prof and all(r["ms"] >= 0 for r in prof)
    assert any(r["type"] in ("Conv", "ConvTranspose") for r in prof)
