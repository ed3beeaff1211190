"""The ``keras`` backend (KerasBackend) against the shared backend tests (tests/runtime/backend_base.py)."""

from __future__ import annotations

import pytest

from tests.runtime.backend_base import BackendTester

pytest.importorskip("tensorflow", reason="the Keras baseline needs TensorFlow (not part of a device install)")


class TestKerasBackend(BackendTester):
    backend = "keras"
    artifacts = ("h5",)
