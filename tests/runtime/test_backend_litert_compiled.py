"""The ``litert-compiled`` backend (LiteRTCompiledBackend) against the shared backend tests (tests/runtime/backend_base.py)."""

from __future__ import annotations

from tests.runtime.backend_base import BackendTester


class TestLiteRTCompiledBackend(BackendTester):
    backend = "litert-compiled"
    artifacts = ("fp32", "int8")
