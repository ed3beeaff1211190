"""Session fixture: tiny .h5/.tflite/.onnx artifacts built once from a tf_keras model."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.tiny_artifacts import build


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> dict[str, Path]:
    """Paths by name: h5, fp32, int8, dynamic (free batch axis), onnx; manifests beside fp32/int8/onnx."""
    return build(tmp_path_factory.getbasetemp() / "edgeseg_tiny", samples_dir)
