"""The ``onnxruntime`` backend (OnnxRuntimeBackend) against the shared backend tests (tests/runtime/backend_base.py)."""

from __future__ import annotations

from tests.runtime.backend_base import BackendTester


class TestOnnxRuntimeBackend(BackendTester):
    backend = "onnxruntime"
    artifacts = ("onnx",)
