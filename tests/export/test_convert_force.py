"""convert never replaces an existing artifact or manifest without --force (issue 22): one line, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeseg.cli.main import main
from edgeseg.errors import ExportError


def _snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.iterdir())}


def test_second_convert_refuses_then_force_replaces(tiny_h5, tmp_path, capsys) -> None:
    argv = ["convert", str(tiny_h5), "--fp32", "--input-size", "64x64", "--no-lint", "--out", str(tmp_path)]
    assert main(argv) == 0
    before = _snapshot(tmp_path)
    assert set(before) == {"tiny_fp32.tflite", "tiny_fp32.tflite.json"}
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {tmp_path / 'tiny_fp32.tflite'} exists (and 1 more); give --force to replace it, "
                   "or --out DIR to write elsewhere\n")
    assert _snapshot(tmp_path) == before  # nothing written, not even a temp file
    assert main([*argv, "--force"]) == 0
    after = _snapshot(tmp_path)
    assert set(after) == set(before) and after["tiny_fp32.tflite.json"][0] > before["tiny_fp32.tflite.json"][0]


def test_api_refuses_too(tiny_h5, tmp_path) -> None:
    from edgeseg.export import convert_model

    (tmp_path / "tiny_onnx_is_elsewhere.txt").write_text("x")
    (tmp_path / "tiny.onnx").write_bytes(b"mine")
    with pytest.raises(ExportError, match="tiny.onnx exists; give --force"):
        convert_model(tiny_h5, ["fp32", "onnx"], tmp_path, input_size="64x64")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.onnx", "tiny_onnx_is_elsewhere.txt"]
    assert (tmp_path / "tiny.onnx").read_bytes() == b"mine"


def test_parity_and_guard_columns_state_their_units() -> None:
    from edgeseg.cli._guard import guard_table
    from edgeseg.cli.convert import _parity

    text = _parity({"agreement_pct": 98.5, "miou_keras_pct": 57.39, "miou_artifact_pct": 57.0,
                    "miou_delta_pts": -0.39, "passed": True})
    assert text == "agree 98.50%, mIoU 57.00% (-0.39 pts vs Keras) [ok]"
    header = guard_table([]).splitlines()[0]
    assert "mIoU %" in header and "drop (pts)" in header


def test_an_interrupted_forced_run_leaves_no_stale_manifest(tiny_h5, tmp_path, monkeypatch) -> None:
    from edgeseg.export import convert as conv

    argv = ["convert", str(tiny_h5), "--fp32", "--input-size", "64x64", "--no-lint", "--out", str(tmp_path)]
    assert main(argv) == 0 and (tmp_path / "tiny_fp32.tflite.json").is_file()

    def interrupted(*args, **kwargs):  # Ctrl-C during verification, after the new file replaced the old one
        raise KeyboardInterrupt

    monkeypatch.setattr(conv, "verify_artifacts", interrupted)
    monkeypatch.setattr(conv, "smoke_run", lambda *a, **k: None)
    code = main([*argv, "--force", "--verify-data", str(Path(__file__).resolve().parents[2] / "samples" / "camvid")])
    assert code == 130
    # the rewritten file is there; the manifest that described the file it replaced is gone with it
    assert (tmp_path / "tiny_fp32.tflite").is_file() and not (tmp_path / "tiny_fp32.tflite.json").exists()
