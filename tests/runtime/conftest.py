"""Session fixture: tiny .h5/.tflite/.onnx artifacts built once from a tf_keras model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_artifacts import build  # noqa: E402


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> dict[str, Path]:
    """Paths by name: h5, fp32, int8, dynamic (free batch axis), onnx; manifests beside fp32/int8/onnx."""
    return build(tmp_path_factory.getbasetemp() / "edgeseg_tiny", samples_dir)
