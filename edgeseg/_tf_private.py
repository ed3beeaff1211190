"""The one place that reaches into private TensorFlow and tfmot APIs, so a TensorFlow upgrade breaks here only.

Each hook below names the public behaviour it stands in for and the test that catches its breakage.
Nothing is imported at import time: every function imports TensorFlow (via :mod:`edgeseg._keras`, which
sets the environment first) when called.

- :func:`patched_calibrate`: ``tensorflow.lite.python.optimize.calibrator.Calibrator.calibrate``, swapped for
  one ``convert()`` call by :func:`edgeseg.export.calibrate.fast_minmax_calibration`
  (``tests/export/test_fast_calibration.py``).
- :func:`mlir_quantize`: ``tensorflow.lite.python.convert.mlir_quantize``, what
  ``QuantizationDebugger.get_nondebug_quantized_model`` calls, used by the int8 guard with I/O types
  (``tests/export/test_guard.py``).
- :func:`tfmot_default_8bit`: tfmot's ``default_8bit`` registry and configs modules, for QAT's annotation
  (``tests/train`` QAT tests).
- :func:`moving_averages`: a Keras optimizer's ``_model_variables_moving_average`` (EMA weights)
  (``tests/train/test_ema.py``).
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Any, Callable, Iterator


@contextlib.contextmanager
def patched_calibrate(wrap: Callable[[Callable[[Any, Any], bytes]], Callable[[Any, Any], bytes]]) -> Iterator[None]:
    """Within the block, TFLite's ``Calibrator.calibrate`` is ``wrap(original)``; restored on exit.

    Args:
        wrap: Takes the original unbound ``calibrate(self, dataset_gen) -> bytes`` and returns its replacement.
    """
    import edgeseg._keras  # noqa: F401  (environment before TensorFlow)
    from tensorflow.lite.python.optimize import calibrator as _cal

    original = _cal.Calibrator.calibrate
    _cal.Calibrator.calibrate = wrap(original)
    try:
        yield
    finally:
        _cal.Calibrator.calibrate = original


def mlir_quantize(model: bytes, **kwargs: Any) -> bytes:
    """``tensorflow.lite.python.convert.mlir_quantize(model, **kwargs)``: quantise a calibrated flatbuffer."""
    import edgeseg._keras  # noqa: F401  (environment before TensorFlow)

    convert = importlib.import_module("tensorflow.lite.python.convert")
    return convert.mlir_quantize(model, **kwargs)


def tfmot_default_8bit() -> tuple[Any, Any]:
    """tfmot's ``(default_8bit_quantize_configs, default_8bit_quantize_registry)`` modules."""
    import edgeseg._keras  # noqa: F401  (tf_keras before tfmot)
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_configs as cfg_mod,
    )
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as reg_mod,
    )

    return cfg_mod, reg_mod


def moving_averages(optimizer: Any) -> list[Any]:
    """The EMA copies a Keras optimizer built with ``use_ema=True`` keeps, one per variable given to
    ``build()``, in that order."""
    return list(optimizer._model_variables_moving_average)  # pylint: disable=protected-access
