"""GPU fixtures: a Vulkan device (else skip), two sample frames, ENet fp32/fp16 converted once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.gpu.gpu_helpers import FRAMES, ZOO


@pytest.fixture(scope="session")
def vulkan_device() -> dict:
    """The first Vulkan device; the test is skipped with the reason when there is none (`make vulkan`)."""
    from edgeseg.runtime import vulkan

    devs = vulkan.devices()
    if not devs:
        pytest.skip(f"GPU tests need a Vulkan device: {vulkan.summary()}")
    return devs[0]


@pytest.fixture(scope="session")
def frames(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Path:
    """A dataset folder (images/ + masks/) with :data:`FRAMES`."""
    root = tmp_path_factory.mktemp("gpu_frames")
    for sub, ext in (("images", ".jpg"), ("masks", ".png")):
        (root / sub).mkdir()
        for stem in FRAMES:
            shutil.copy(samples_dir / sub / f"{stem}{ext}", root / sub / f"{stem}{ext}")
    return root


@pytest.fixture(scope="session")
def enet_files(vulkan_device: dict, tmp_path_factory: pytest.TempPathFactory, frames: Path) -> dict[str, Path]:
    """The shipped ENet's fp32 and fp16 .tflite (converted from its .h5) and its shipped int8 file."""
    from edgeseg.cli.main import main

    out = tmp_path_factory.mktemp("gpu_enet")
    h5 = ZOO / "camvid-enet" / "camvid-enet.h5"
    assert main(["convert", str(h5), "--fp32", "--fp16", "--no-lint", "--verify-data", str(frames),
                 "--out", str(out)]) == 0
    return {"fp32": out / "camvid-enet_fp32.tflite", "fp16": out / "camvid-enet_fp16.tflite",
            "int8": ZOO / "camvid-enet" / "camvid-enet_int8.tflite"}
