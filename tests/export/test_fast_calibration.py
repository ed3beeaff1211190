"""int8 min/max statistics gathered on XNNPACK equal the TFLite converter's own calibration pass."""

from __future__ import annotations

import numpy as np


def _minmax(buf: bytes) -> dict[int, tuple[float, float]]:
    from ai_edge_litert import schema_py_generated as fb

    sg = fb.Model.GetRootAs(buf, 0).Subgraphs(0)
    out = {}
    for i in range(sg.TensorsLength()):
        q = sg.Tensors(i).Quantization()
        if q is not None and q.MinLength() == 1:
            out[i] = (q.Min(0), q.Max(0))
    return out


def test_fast_statistics_equal_stock_calibrator():
    from edgeseg._keras import tf
    from edgeseg.export.calibrate import fast_minmax_calibration, first_frame
    from edgeseg.export.head import prepare_model
    from edgeseg.export.tflite import converter_for
    from tests.export.conftest import build_tiny

    model = prepare_model(build_tiny(), (32, 48))
    rng = np.random.default_rng(0)
    # Frame 3 has the extremes: statistics from the first frame alone would differ.
    frames = [rng.normal(scale=s, size=(1, 32, 48, 3)).astype(np.float32) for s in (1, 1, 1, 4, 1)]

    def calibrated(fast: bool) -> bytes:
        conv = converter_for(model)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv._experimental_calibrate_only = True  # pylint: disable=protected-access
        if not fast:
            conv.representative_dataset = lambda: ([f] for f in frames)
            return conv.convert()
        conv.representative_dataset = first_frame(lambda: iter(frames))
        with fast_minmax_calibration(lambda: iter(frames)):
            return conv.convert()

    stock, fast = _minmax(calibrated(False)), _minmax(calibrated(True))
    assert stock.keys() == fast.keys() and len(stock) >= 5
    for i, (lo, hi) in stock.items():
        assert fast[i] == (np.float32(lo), np.float32(hi)) or np.allclose(fast[i], (lo, hi), rtol=1e-5, atol=1e-6), i
    assert stock[0][1] > 6  # the input's max comes from the scale-4 frame
