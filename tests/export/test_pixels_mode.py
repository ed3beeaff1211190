"""Pixels mode (`convert --pixels`, implied by `--io uint8`): normalisation in the graph, raw pixels in."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from edgeseg.core.presets import CAMVID

SIZE = (32, 48)


@pytest.mark.parametrize("order", ["RGB", "BGR"])
def test_in_graph_normalisation_equals_preprocess(order):
    """The fixed 1x1 conv on raw pixels gives what the model gets from core.preprocess (channel order too)."""
    from edgeseg.core.preprocess import normalise
    from edgeseg.export.head import NORMALISE_LAYER, prepare_model

    from tests.export.conftest import build_tiny

    spec = CAMVID.with_(channel_order=order)
    tiny = build_tiny()
    pixels = np.random.default_rng(0).integers(0, 256, (1, *SIZE, 3)).astype(np.float32)
    ours = prepare_model(tiny, SIZE, normalise=spec)
    assert ours.get_layer(NORMALISE_LAYER) is not None
    want = np.asarray(prepare_model(tiny, SIZE)(normalise(pixels, spec)))
    assert np.abs(np.asarray(ours(pixels)) - want).max() < 1e-4


def test_pixel_spec_round_trip():
    from edgeseg.core.preprocess import preprocess
    from edgeseg.export.head import is_per_channel, is_pixel_spec, pixel_spec

    spec = pixel_spec(CAMVID.with_(channel_order="BGR"))
    assert is_pixel_spec(spec) and not is_pixel_spec(CAMVID)
    assert spec.class_names == CAMVID.class_names and spec.channel_order == "RGB"
    assert is_per_channel(CAMVID) and not is_per_channel(spec)
    image = np.arange(256 * 3, dtype=np.int64).reshape(16, 16, 3) % 256
    assert np.abs(preprocess(image.astype(np.uint8), spec, (16, 16)) - image).max() < 1e-3


@pytest.fixture(scope="module")
def pixels_run(tiny_h5, samples_dir, tmp_path_factory):
    """`convert --fp32 --int8 --io uint8` (pixels implied) of the tiny CamVid-preset model at 32x48."""
    from edgeseg.cli.main import main

    out = tmp_path_factory.mktemp("pixels")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()) as stdout:
        code = main(["convert", str(tiny_h5), "--fp32", "--int8", "--io", "uint8", "--input-size", "32x48",
                     "--calib-data", str(samples_dir), "--calib-count", "3", "--verify-data", str(samples_dir),
                     "--no-lint", "--json", "--out", str(out)])
    assert code == 0, err.getvalue()[-500:]
    return {r["target"]: r for r in json.loads(stdout.getvalue())["artifacts"]}, err.getvalue()


def test_uint8_io_implies_pixels(pixels_run):
    """Both artifacts take raw pixels; int8's uint8 input is exactly scale 1, zero point 0; parity is judged
    against the Keras model fed frames normalised by the original (per-channel) spec."""
    from edgeseg.core.manifest import Manifest
    from edgeseg.export.head import is_pixel_spec
    from edgeseg.export.tflite_metadata import read_metadata

    results, err = pixels_run
    assert "graph input: raw RGB pixels 0..255" in err and "needs --pixels" not in err
    inp = results["int8"]["input"]
    assert (inp["dtype"], inp["scale"], inp["zero_point"]) == ("uint8", 1.0, 0)
    assert results["fp32"]["parity"]["passed"] is True and results["fp32"]["parity"]["agreement_pct"] >= 99.9
    assert results["int8"]["parity"]["agreement_pct"] >= 90.0
    for r in results.values():
        m = Manifest.load(r["manifest"])
        assert is_pixel_spec(m.spec) and m.spec.class_names == CAMVID.class_names
        pre = m["preprocessing"]
        assert pre["normalisation"] == "in graph"
        assert (pre["graph_mean"], pre["graph_std"]) == (list(CAMVID.mean), list(CAMVID.std))
        meta = read_metadata(open(r["path"], "rb").read())
        assert (meta["mean"], meta["std"]) == ([0.0] * 3, [1.0] * 3)


def test_pixels_graph_is_fully_delegated(pixels_run):
    """XNNPACK takes the normalisation conv: fp32 all nodes; int8 all but the uint8<->int8 I/O QUANTIZE ops."""
    from edgeseg import runtime

    results, _ = pixels_run
    with runtime.load(results["fp32"]["path"]) as be:
        d = be.delegated_ops()
        assert d["fallback"] == {} and d["partitions"] == 1
    with runtime.load(results["int8"]["path"]) as be:
        d = be.delegated_ops()
        assert set(d["fallback"]) <= {"QUANTIZE"} and d["partitions"] == 1


def test_per_channel_spec_without_pixels_prints_a_note(tiny_h5, samples_dir, tmp_path, capsys):
    from edgeseg.cli.main import main

    code = main(["convert", str(tiny_h5), "--fp32", "--input-size", "32x48", "--verify-data", str(samples_dir),
                 "--no-lint", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 0
    notes = [ln for ln in err.splitlines() if "needs --pixels" in ln]
    assert len(notes) == 1 and "MediaPipe" in notes[0]
