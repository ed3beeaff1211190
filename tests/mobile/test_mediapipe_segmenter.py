"""MediaPipe's ImageSegmenter loads `edgeseg convert` output as is and agrees with edgeseg.runtime.

MediaPipe 1.2.2 pins absl-py ~=2.3, which tensorflow-model-optimization (absl-py ~=1.2) cannot share,
so MediaPipe runs in its own virtualenv (.venv-mediapipe, made by `make .venv-mediapipe`, which
`make test` depends on; created here if missing). The model is a tiny untrained ENet (width 0.125,
deterministic seed) converted by `edgeseg convert M.h5 --fp32 --int8 --io uint8`; the frame is a real
CamVid sample already resized to the model size, so neither side resizes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCRIPT = HERE / "mediapipe_segment.py"
SIZE = (48, 64)  # H, W: a multiple of ENet's stride 8
#: MediaPipe has one mean/std for all channels (per-channel normalisation is "not available").
UNIFORM = {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}
MIN_AGREEMENT = {"fp32": 99.0, "int8": 98.0}


def _venv_python() -> Path:
    """The MediaPipe virtualenv's interpreter, created (mediapipe==1.2.2 numpy pillow) if missing."""
    venv = Path(os.environ.get("EDGESEG_MEDIAPIPE_VENV", REPO / ".venv-mediapipe"))
    py = venv / "bin" / "python"
    if not (venv / ".installed").exists():  # the stamp `make .venv-mediapipe/.installed` leaves
        try:
            subprocess.run(["python3", "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
            subprocess.run([str(py), "-m", "pip", "install", "-q", "mediapipe==1.2.2", "numpy", "pillow"],
                           check=True, capture_output=True, timeout=900)
            (venv / ".installed").touch()
        except (OSError, subprocess.SubprocessError) as exc:
            pytest.skip(f"cannot create the MediaPipe virtualenv {venv}: {exc}")
    return py


def mediapipe_mask(model: Path, image: Path, tmp: Path) -> tuple[np.ndarray | None, dict]:
    """Category mask MediaPipe's ImageSegmenter gives for ``image``, plus the script's JSON report."""
    out = tmp / f"{model.stem}.mp.npy"
    proc = subprocess.run([str(_venv_python()), str(SCRIPT), str(model), str(image), str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"MediaPipe script printed no report: {proc.stderr[-800:]}"
    report = json.loads(lines[-1])
    return (np.load(out) if report["ok"] else None), report


@pytest.fixture(scope="module")
def exported(tmp_path_factory, samples_dir) -> dict[str, Path]:
    """The tiny ENet as .h5 (+ manifest with a uniform mean/std spec), converted by `edgeseg convert`."""
    from edgeseg._keras import keras
    from edgeseg.cli.main import main
    from edgeseg.core.manifest import Manifest, sidecar_path
    from edgeseg.core.presets import CAMVID
    from edgeseg.models import registry

    work = tmp_path_factory.mktemp("mobile")
    keras.utils.set_random_seed(0)
    model = registry.build("enet", CAMVID.num_classes, SIZE, width=0.125, activation="relu", dropout=0.0)
    h5 = work / "enet_tiny.h5"
    model.save(h5)
    Manifest(CAMVID.with_(input_size=SIZE, **UNIFORM)).save(sidecar_path(h5))
    code = main(["convert", str(h5), "--fp32", "--int8", "--io", "uint8", "--calib-data", str(samples_dir),
                 "--calib-count", "2", "--no-lint", "--json"])
    assert code == 0
    from PIL import Image

    frame = work / "frame.png"  # already at model size: MediaPipe and edgeseg see identical pixels
    src = sorted((samples_dir / "images").iterdir())[0]
    Image.open(src).convert("RGB").resize(SIZE[::-1], Image.BILINEAR).save(frame)
    return {"fp32": work / "enet_tiny_fp32.tflite", "int8": work / "enet_tiny_int8.tflite", "frame": frame,
            "work": work}


def edgeseg_mask(model: Path, frame: Path) -> np.ndarray:
    """What `edgeseg predict` computes for the frame: manifest preprocessing, runtime, argmax."""
    from PIL import Image

    from edgeseg import runtime
    from edgeseg.bench.accuracy import predict_frame

    image = np.asarray(Image.open(frame).convert("RGB"))
    with runtime.load(model) as be:
        return predict_frame(be, image, be.manifest.spec, be.input_size)


INT8_XFAIL = pytest.mark.xfail(strict=True, reason="MediaPipe feeds the uint8 input raw pixels but the exported input "
                               "quantisation means normalised values (measured 97.46% agreement); needs the export "
                               "fix in test_uint8_input_means_raw_pixels")


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", pytest.param("int8", marks=INT8_XFAIL)])
def test_mediapipe_agrees_with_edgeseg(exported, precision, tmp_path):
    mp, report = mediapipe_mask(exported[precision], exported["frame"], tmp_path)
    assert report["ok"], f"MediaPipe rejected {exported[precision].name}: {report.get('error')}"
    from edgeseg.core.presets import CAMVID

    assert report["labels"] == list(CAMVID.class_names)  # the label file associated with the output
    ours = edgeseg_mask(exported[precision], exported["frame"])
    assert mp.shape == ours.shape == SIZE
    agreement = 100.0 * float(np.mean(mp == ours))
    print(f"{precision}: MediaPipe vs edgeseg agreement {agreement:.2f}% over {mp.size} pixels")
    assert len(np.unique(ours)) > 1  # a constant map would agree trivially
    assert agreement >= MIN_AGREEMENT[precision]


@pytest.mark.slow
def test_mediapipe_reports_per_channel_normalisation(exported, tmp_path):
    """A spec with per-channel mean/std (the CamVid preset's ImageNet statistics) cannot be expressed
    to MediaPipe: the segmenter refuses the file in one line instead of normalising wrongly."""
    from edgeseg.core.presets import CAMVID
    from edgeseg.export.tflite_metadata import SegmenterMetadata, populate

    meta = SegmenterMetadata.from_spec(CAMVID, name="per_channel", input_size=SIZE, head="logits", version="0")
    path = tmp_path / "per_channel.tflite"
    path.write_bytes(populate(exported["fp32"].read_bytes(), meta))
    mask, report = mediapipe_mask(path, exported["frame"], tmp_path)
    assert mask is None and "Per-channel image normalization" in report["error"]


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="export: the uint8 input's quantisation comes from the converter "
                   "(shared with ENet's initial concat), not from the pixel normalisation MediaPipe assumes "
                   "(it feeds raw 0..255 pixels); see docs/mobile.md")
def test_uint8_input_means_raw_pixels(exported):
    """MediaPipe feeds a uint8 input raw pixels; they mean (p - 255*mean) / (255*std) only if the input's
    quantisation says so: scale 1/(255*std), zero point 255*mean (within half a step)."""
    from edgeseg import runtime

    with runtime.load(exported["int8"]) as be:
        scale, zp = be.input.scale, be.input.zero_point
    assert scale == pytest.approx(1 / (255 * UNIFORM["std"][0]), rel=0.01)
    assert abs(zp - 255 * UNIFORM["mean"][0]) <= 0.5
