"""predict's inputs (subfolders, skipped files, stem collisions, upscaling), overlay legend, --alpha, and Pareto
labels that do not overprint (issue 22)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgeseg.cli.main import main


@pytest.fixture
def layout(samples_dir: Path, tmp_path: Path) -> Path:
    """A SegNet-like folder: images only in subfolders (val/, valannot/), like ../shared/camvid."""
    root = tmp_path / "camvid"
    (root / "val").mkdir(parents=True)
    (root / "valannot").mkdir()
    first = sorted((samples_dir / "images").iterdir())[0]
    shutil.copy(first, root / "val" / first.name)
    shutil.copy(samples_dir / "masks" / (first.stem + ".png"), root / "valannot" / (first.stem + ".png"))
    return root


def test_folder_with_images_only_in_subfolders_says_so(tiny, layout, tmp_path, capsys) -> None:
    assert main(["predict", str(tiny["int8"]), str(layout), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no images directly in it, but in its subfolders val, valannot" in err
    assert f"(e.g. {layout / 'val'})" in err and "--recursive" in err
    assert not (tmp_path / "o").exists()
    # --recursive finds val/ and valannot/: same stems, so it names the collision instead of segmenting masks
    assert main(["predict", str(tiny["int8"]), str(layout), "--recursive", "--out", str(tmp_path / "o")]) == 2
    assert "valannot" in capsys.readouterr().err
    shutil.rmtree(layout / "valannot")
    assert main(["predict", str(tiny["int8"]), str(layout), "--recursive", "--out", str(tmp_path / "o")]) == 0
    assert len(list((tmp_path / "o").glob("*.overlay.png"))) == 1


def test_skipped_files_and_subfolders_are_reported(tiny, samples_dir, tmp_path, capsys) -> None:
    d = tmp_path / "in"
    (d / "more").mkdir(parents=True)
    imgs = sorted((samples_dir / "images").iterdir())
    shutil.copy(imgs[0], d / imgs[0].name)
    shutil.copy(imgs[1], d / "more" / imgs[1].name)
    (d / "notes.txt").write_text("x")
    assert main(["predict", str(tiny["int8"]), str(d), "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert f"note: {d}: skipped 1 non-image file(s) (notes.txt;" in err
    assert f"note: {d}: skipped 1 subfolder(s) with images (more); --recursive includes them" in err


def test_stem_collision_names_both_files(tiny, samples_dir, tmp_path, capsys) -> None:
    img = sorted((samples_dir / "images").iterdir())[0]
    other = tmp_path / "x" / (img.stem + ".png")
    other.parent.mkdir()
    Image.open(img).save(other)
    assert main(["predict", str(tiny["int8"]), str(img), str(other), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"error: {img} and {other} share the file stem {img.stem!r}" in err and err.count("\n") == 1


def test_small_image_upscaling_is_noted_and_legend_written(tiny, tmp_path, capsys) -> None:
    small = tmp_path / "small.png"
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(small)
    out = tmp_path / "o"
    assert main(["predict", str(tiny["int8"]), str(small), "--out", str(out)]) == 0
    cap = capsys.readouterr()
    assert "note: small.png is 8x8, upscaled 8.0x to the model's 64x64 input" in cap.err
    assert "legend.png" in cap.out
    legend = np.asarray(Image.open(out / "legend.png").convert("RGB"))
    colours = {tuple(c) for c in legend.reshape(-1, 3)}
    assert (128, 128, 128) in colours and (128, 0, 0) in colours  # Sky and Building swatches
    assert legend.shape[0] > 11 * 16  # a row per class (+ void)


@pytest.mark.parametrize("alpha", ["2", "-0.1"])
def test_alpha_outside_0_1_is_refused(tiny, samples_dir, tmp_path, capsys, alpha) -> None:
    img = sorted((samples_dir / "images").iterdir())[0]
    assert main(["predict", str(tiny["int8"]), str(img), "--alpha", alpha, "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == f"error: --alpha must be between 0 and 1, got {float(alpha):g}\n"
    assert not (tmp_path / "o").exists()


def test_pareto_labels_of_coinciding_points_are_stacked() -> None:
    from edgeseg.bench.plots import label_groups

    pts = [(10.0, 55.0), (10.05, 55.0), (30.0, 57.0), (10.0, 40.0)]
    groups = label_groups(pts, ["tflite/int8/litert", "tflite/int8/litert-compiled", "h5/keras", "onnx"])
    assert groups == [(10.0, 55.0, "tflite/int8/litert\ntflite/int8/litert-compiled"), (30.0, 57.0, "h5/keras"),
                      (10.0, 40.0, "onnx")]
