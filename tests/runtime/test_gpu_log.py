"""Placement and adapter read from LiteRT's GPU log (the three forms it prints), and how results name devices."""

from __future__ import annotations

from edgeseg.bench.device import device_label, runtime_cell, software_note
from edgeseg.runtime.gpu_log import adapter, placement

ADAPTER = ("I0000 00:00:1796134153.406532    5228 environment.cc:532] Selected adapter: llvmpipe (LLVM 15.0.6, 256 "
           "bits), arch=software, vendor=mesa, backend=Vulkan, adapterType=CPU / Software\n")
SPLIT = ("ERROR: Following operations are not supported by GPU delegate:\nDEQUANTIZE: \n"
         "TRANSPOSE_CONV: Max version supported: 3. Requested version 4.\n"
         "106 operations will run on the GPU, and the remaining 206 operations will run on the CPU.\n"
         "I0000 00:00:1796134187.075920    6338 delegate_kernel.cc:984] Initializing WebGPU-based API from graph.\n")
FULL = "I0000 00:00:1796134208.323577    6894 delegate_kernel.cc:984] Initializing WebGPU-based API from graph.\n"


def test_partial_placement_counts_and_reasons():
    p = placement(ADAPTER + SPLIT, total_ops=312)
    assert (p["delegated"], p["cpu"], p["total"], p["partitions"]) == (106, 206, 312, 1)
    assert p["unsupported"] == {"DEQUANTIZE": "", "TRANSPOSE_CONV": "Max version supported: 3. Requested version 4."}


def test_full_and_no_and_unknown_placement():
    assert placement(FULL, total_ops=7) == {"delegated": 7, "cpu": 0, "total": 7, "partitions": 1, "unsupported": {}}
    none = placement("No operations will run on the GPU, and all 9 operations will run on the CPU.\n", 9)
    assert (none["delegated"], none["cpu"]) == (0, 9)
    assert placement("", 5)["delegated"] is None  # log not captured: unknown, never a guess


def test_adapter_and_labels():
    a = adapter("noise\n" + ADAPTER + SPLIT)
    assert a is not None and a["name"] == "llvmpipe (LLVM 15.0.6, 256 bits)" and a["vendor"] == "mesa"
    assert a["software"] is True and a["backend"] == "Vulkan"
    assert adapter(SPLIT) is None
    r = {"runtime": "litert-compiled", "options": {"accelerator": "gpu"}, "device": a}
    assert device_label(r) == "llvmpipe (mesa, software)"
    assert runtime_cell(r) == "litert-compiled/gpu: llvmpipe (mesa, software)"
    assert "not GPU speed" in software_note(r)
    hw = {"runtime": "litert-compiled", "options": {"accelerator": "gpu"},
          "device": {"name": "Mali-G710", "vendor": "ARM", "software": False}}
    assert software_note(hw) is None and runtime_cell(hw) == "litert-compiled/gpu: Mali-G710 (ARM)"
    assert runtime_cell({"runtime": "litert", "options": {}, "device": None}) == "litert"


def test_disagreeing_accelerator_is_flagged():
    from edgeseg.bench.device import MIN_AGREEMENT, agreement_warning

    r = {"runtime": "litert-compiled", "options": {"accelerator": "gpu"}, "cpu_agreement": {"agreement": 0.4737}}
    assert "47.4 %" in agreement_warning(r) and "gpu result is wrong" in agreement_warning(r)
    r["cpu_agreement"]["agreement"] = MIN_AGREEMENT
    assert agreement_warning(r) is None
    assert agreement_warning({"runtime": "litert", "options": {}, "cpu_agreement": None}) is None
