"""MediaPipe's ImageSegmenter loads `edgeseg convert` output as is and agrees with edgeseg.runtime.

MediaPipe 1.2.2 pins absl-py ~=2.3, which tensorflow-model-optimization (absl-py ~=1.2) cannot share,
so MediaPipe runs in its own virtualenv (.venv-mediapipe, made by `make .venv-mediapipe`, which
`make test` depends on; created here if missing). The model is a tiny untrained ENet (width 0.125,
deterministic seed) with the CamVid preset's per-channel ImageNet mean/std, converted once by
`edgeseg convert M.h5 --fp32 --int8 --pixels --io uint8` (normalisation in the graph, raw pixels in);
the frame is a real CamVid sample already resized to the model size, so neither side resizes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCRIPT = HERE / "mediapipe_segment.py"
SIZE = (48, 64)  # H, W: a multiple of ENet's stride 8
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
    """The tiny ENet as .h5 (+ manifest with the CamVid preset: per-channel mean/std), converted once."""
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
    Manifest(CAMVID.with_(input_size=SIZE)).save(sidecar_path(h5))
    frames = work / "frames"  # 3 real frames (+ masks): calibration and a short parity run
    for sub in ("images", "masks"):
        (frames / sub).mkdir(parents=True)
        for src in sorted((samples_dir / sub).iterdir())[:3]:
            shutil.copy(src, frames / sub / src.name)
    code = main(["convert", str(h5), "--fp32", "--int8", "--pixels", "--io", "uint8", "--calib-data",
                 str(frames), "--verify-data", str(frames), "--no-lint", "--json"])
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


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "int8"])
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
    """Why --pixels exists: per-channel mean/std (the CamVid preset's ImageNet statistics) in the metadata
    cannot be expressed to MediaPipe; the segmenter refuses such a file in one line."""
    from edgeseg.core.presets import CAMVID
    from edgeseg.export.tflite_metadata import SegmenterMetadata, populate

    meta = SegmenterMetadata.from_spec(CAMVID, name="per_channel", input_size=SIZE, head="logits", version="0")
    path = tmp_path / "per_channel.tflite"
    path.write_bytes(populate(exported["fp32"].read_bytes(), meta))
    mask, report = mediapipe_mask(path, exported["frame"], tmp_path)
    assert mask is None and "Per-channel image normalization" in report["error"]


@pytest.mark.slow
def test_uint8_input_means_raw_pixels(exported):
    """MediaPipe feeds a uint8 input raw pixels: the input quantisation is exactly scale 1, zero point 0,
    the metadata normalisation is the identity, and the sidecar spec makes edgeseg feed raw pixels too."""
    from edgeseg import runtime
    from edgeseg.core.preprocess import preprocess
    from edgeseg.core.presets import CAMVID
    from edgeseg.export.tflite_metadata import read_metadata

    with runtime.load(exported["int8"]) as be:
        assert (be.input.dtype, be.input.scale, be.input.zero_point) == ("uint8", 1.0, 0)
        spec = be.manifest.spec
        pre = be.manifest["preprocessing"]
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=-1)
    assert np.allclose(preprocess(pixels, spec, (16, 16)), pixels, atol=1e-3)  # edgeseg's input: raw pixels
    assert pre["normalisation"] == "in graph" and pre["graph_mean"] == list(CAMVID.mean)
    assert pre["graph_std"] == list(CAMVID.std)
    for precision in ("fp32", "int8"):
        meta = read_metadata(exported[precision].read_bytes())
        assert (meta["mean"], meta["std"]) == ([0.0] * 3, [1.0] * 3)
