"""Shared tester for the runtime backends: each backend's test module subclasses BackendTester."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from edgeseg import runtime
from edgeseg.core.fileio import sniff_model_format
from edgeseg.errors import ModelError, UsageError

# The int8 file's logits against Keras, as fractions of Keras' logit span (XNNPACK, 1 thread, 2 frames).
# Measured: max 0.72 %, mean 0.125 %, argmax agreement 97.05 %. Limits: about 2x the measured error, 2 points
# under the agreement. Broken decoding they catch (test_int8_check_catches_broken_quantisation): output zero
# point dropped 6.1 % max / 5.3 % mean (a constant shift: agreement unchanged), output scale 5 % off 3.0 % max,
# input zero point dropped 13.7 %, RGB fed as BGR 21 % and 79 % agreement.
INT8_MAX_ERR_OF_SPAN = 0.015
INT8_MEAN_ERR_OF_SPAN = 0.003
INT8_MIN_AGREEMENT = 0.95


def check_int8_logits(y: np.ndarray, reference: np.ndarray) -> None:
    """Assert an integer artifact's dequantised logits are within the int8 limits above of Keras'."""
    span = float(reference.max() - reference.min())
    err = np.abs(y - reference)
    assert float(err.max()) < INT8_MAX_ERR_OF_SPAN * span, f"max error {err.max() / span:.2%} of the span"
    assert float(err.mean()) < INT8_MEAN_ERR_OF_SPAN * span, f"mean error {err.mean() / span:.3%} of the span"
    agree = (y.argmax(-1) == reference.argmax(-1)).mean()
    assert agree > INT8_MIN_AGREEMENT, f"argmax agreement {agree:.2%}"


class BackendTester:
    """Tests every registered backend must pass on the tiny artifacts (the ``tiny`` fixture: h5, fp32, int8,
    dynamic, onnx). Subclasses set the class attributes below; backend-specific tests go in the subclass."""

    backend: ClassVar[str]  # registry name (edgeseg.runtime.BACKENDS)
    artifacts: ClassVar[tuple[str, ...]]  # keys of ``tiny`` it must run, checked against Keras' logits
    #: Largest |logit difference| from Keras for float artifacts (the tiny model's logits span about 1).
    float_atol: ClassVar[float] = 1e-4

    @pytest.fixture
    def batch(self) -> np.ndarray:
        """The two preprocessed sample frames Keras' reference logits were computed on."""
        from tests.fixtures import tiny

        return tiny.reference()[0]

    @pytest.fixture
    def reference(self) -> np.ndarray:
        """Keras' logits on :meth:`batch` (committed: the check runs on a device install too)."""
        from tests.fixtures import tiny

        return tiny.reference()[1]

    def load(self, tiny: dict, key: str, **options: Any) -> runtime.Backend:
        return runtime.load(tiny[key], self.backend, threads=1, **options)

    def test_registered_and_describes_itself(self) -> None:
        cls = runtime.backend_class(self.backend)
        assert cls.name == self.backend and cls.formats and cls.extra
        assert cls.engine_version() is not None, f"{self.backend}: engine not installed in the test environment"
        assert all(runtime.canonical_name(a) == self.backend for a, n in runtime.ALIASES.items() if n == self.backend)
        assert cls.__doc__ and all(help_ for help_ in cls.OPTIONS.values())

    def test_runs_like_keras(self, tiny: dict, batch: np.ndarray, reference: np.ndarray) -> None:
        for key in self.artifacts:
            with self.load(tiny, key) as be:
                assert be.name == self.backend and sniff_model_format(tiny[key]) in be.formats
                assert be.input_size == (64, 64) and be.threads == 1
                assert be.manifest is None or be.manifest.spec.input_size == (64, 64)
                if key == "int8":  # int8 I/O: floats in, dequantised logits out
                    assert be.input.dtype == "int8" and be.input.quantized and be.output.quantized
                y = be.run(batch)
                assert y.dtype == np.float32 and y.shape == reference.shape == (2, 64, 64, 11), key
                if be.input.quantized:
                    check_int8_logits(y, reference)
                else:
                    np.testing.assert_allclose(y, reference, atol=self.float_atol, err_msg=key)
                labels = be.predict_labels(batch)
                assert labels.shape == (2, 64, 64) and labels.dtype == np.uint8, key
                assert np.array_equal(labels, y.argmax(-1)), key

    def test_raw_steps_are_what_run_does(self, tiny: dict) -> None:
        """set_input / invoke / get_output (what latency measurement times) give run_raw's result."""
        for key in self.artifacts:
            with self.load(tiny, key) as be:
                shape = [d if d and d > 0 else 1 for d in be.input.shape]
                dtype = np.dtype(be.input.dtype)
                lo, hi = (np.iinfo(dtype).min, np.iinfo(dtype).max) if dtype.kind in "iu" else (-2, 2)
                x = np.random.default_rng(0).uniform(lo, hi, shape).astype(dtype)
                be.set_input(x)
                be.invoke()
                np.testing.assert_array_equal(be.get_output(), be.run_raw(x), err_msg=key)

    def test_is_the_default_where_registered(self, tiny: dict) -> None:
        for key in self.artifacts:
            if runtime.DEFAULT_BACKEND.get(sniff_model_format(tiny[key])) == self.backend:
                with runtime.load(tiny[key], threads=1) as be:
                    assert be.name == self.backend, key

    def test_describe_is_json_ready(self, tiny: dict) -> None:
        import json

        with self.load(tiny, self.artifacts[0]) as be:
            d = json.loads(json.dumps(be.describe()))
        assert d["runtime"] == self.backend and d["threads"] == 1 and d["engine_version"]
        assert d["input"]["shape"][1:3] == [64, 64] and d["output"]["shape"][-1] == 11

    def test_other_formats_and_bad_options_are_one_line_errors(self, tiny: dict) -> None:
        cls = runtime.backend_class(self.backend)
        other = next(k for k in ("onnx", "fp32", "h5") if sniff_model_format(tiny[k]) not in cls.formats)
        with pytest.raises(ModelError, match=f"backend {self.backend} loads") as exc:
            self.load(tiny, other)
        with pytest.raises(UsageError, match="has no option") as exc2:
            self.load(tiny, self.artifacts[0], no_such_option=1)
        with pytest.raises(UsageError, match="threads"):
            runtime.load(tiny[self.artifacts[0]], self.backend, threads=0)
        assert "\n" not in str(exc.value) + str(exc2.value)
