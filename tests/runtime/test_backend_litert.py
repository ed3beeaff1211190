"""The ``litert`` backend (LiteRTInterpreterBackend) against the shared backend tests (tests/runtime/backend_base.py)."""

from __future__ import annotations

import numpy as np

from tests.runtime.backend_base import BackendTester


class TestLiteRTInterpreterBackend(BackendTester):
    backend = "litert"
    artifacts = ("fp32", "int8", "dynamic")

    def test_xnnpack_off_gives_the_same_logits(self, tiny, batch, reference):
        with self.load(tiny, "fp32", xnnpack=False) as be:
            np.testing.assert_allclose(be.run(batch), reference, atol=self.float_atol)

