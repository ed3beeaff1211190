"""Every zoo architecture deploys: TFLite fp32/int8 use builtins only, ONNX passes the full checker and
runs, fp32 logits match Keras on a real frame, and XNNPACK takes the whole graph where it should."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeseg.core.presets import CAMVID
from edgeseg.models.registry import get_info, input_multiple, list_models, round_up_size

#: Small widths per architecture (keeps conversion fast) that still build every op type of it;
#: unknown archs get defaults. Every key must be a real option (checked below: a misspelt key was
#: silently dropped once, and SegNet/PSPNet/FCN-8s were converted at full width).
SMALL = {
    "unet": {"depth": 2, "base_width": 8},
    "enet": {"width": 0.25, "activation": "relu", "unpool": "bilinear"},
    "linknet": {"base_width": 8, "blocks": (1, 1, 1, 1)},
    "deeplabv3plus": {"width": 0.25, "aspp_filters": 16, "decoder_filters": 16, "low_level_filters": 8},
    "pspnet": {"base_width": 8, "blocks": (1, 1, 1, 1)},
    "fcn8s": {"base_width": 8, "fc_filters": 16},
    "segnet": {"base_width": 8},
    "rtseg": {"width": 0.5, "blocks": (1, 1, 1)},
}
#: Architectures whose int8 graph XNNPACK must take completely (ENet: ReLU + bilinear unpooling; with
#: PReLU or nearest unpooling XNNPACK leaves PRELU / RESIZE_NEAREST_NEIGHBOR to the builtin kernels).
FULLY_DELEGATED_INT8 = {"unet", "enet", "linknet", "rtseg"}


def _options(name: str) -> dict:
    return dict(SMALL.get(name, {}))


def test_small_options_are_real_options():
    for name, opts in SMALL.items():
        assert set(opts) <= set(get_info(name).default_options), name


@pytest.fixture(scope="module")
def frames(samples_dir):
    from edgeseg.data.calibration import CalibrationSet, open_dataset

    return open_dataset(samples_dir, CAMVID)


@pytest.mark.slow
@pytest.mark.parametrize("name", list_models())
def test_architecture_deploys(name, frames, tmp_path):
    import onnx

    from edgeseg import runtime
    from edgeseg.data.calibration import CalibrationSet
    from edgeseg.export import convert_model
    from edgeseg.models import registry

    opts = _options(name)
    size = round_up_size((64, 64), input_multiple(name, **opts))
    model = registry.build(name, CAMVID.num_classes, size, **opts)
    h5 = tmp_path / f"{name}.h5"
    model.save(h5)
    int8 = name in FULLY_DELEGATED_INT8  # int8 conversion is the slow part: only where XNNPACK is asserted
    targets = ["fp32", "onnx"] + (["int8"] if int8 else [])
    results = convert_model(h5, targets, tmp_path, calib=frames if int8 else None, calib_count=2,
                            input_size=size)
    by = {r["target"]: r for r in results}
    for target in [t for t in targets if t != "onnx"]:
        assert not [o for o in by[target]["ops"] if o.startswith("CUSTOM")], by[target]["ops"]
    proto = onnx.load(by["onnx"]["path"])
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    onnx.checker.check_model(proto, full_check=True)

    x = next(iter(CalibrationSet(frames, CAMVID, size, 1)))  # a real frame, resized
    ref = model(x, training=False).numpy()
    for target in ("fp32", "onnx"):
        with runtime.load(by[target]["path"]) as be:
            np.testing.assert_allclose(be.run(x), ref, atol=1e-4, rtol=0, err_msg=f"{name} {target}")
    if not int8:
        return
    with runtime.load(by["int8"]["path"]) as be:
        report = be.delegated_ops()
    print(f"{name}: int8 XNNPACK fallback {report['fallback']} ({report['delegated']}/{report['total']})")
    assert report["fallback"] == {} or set(report["fallback"]) <= {"QUANTIZE", "DEQUANTIZE"}, report
