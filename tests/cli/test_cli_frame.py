"""CLI frame: --help/--version, exit codes, one-line errors, no TensorFlow on import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from edgeseg import __version__
from edgeseg.cli.main import main

HEAVY = ("tensorflow", "tf_keras", "keras")


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"edgeseg {__version__}"


def test_help_lists_subcommands(capsys):
    assert main(["--help"]) == 0
    assert "data" in capsys.readouterr().out


def test_unknown_flag_is_one_line_usage_error(capsys):
    assert main(["data", "inspect", "--bogus"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_user_error_exit_2(tmp_path, capsys):
    assert main(["data", "inspect", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path / 'missing'}: no such dataset folder\n"


def test_import_and_help_load_no_tensorflow():
    code = (
        "import sys, edgeseg, edgeseg.core.metrics, edgeseg.core.dataset\n"
        "from edgeseg.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "usage: edgeseg" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "HEAVY=", out.stdout


def test_inspect_samples_table(samples_dir, capsys):
    assert main(["data", "inspect", str(samples_dir)]) == 0
    out = capsys.readouterr().out
    assert "images    11" in out and "Road" in out and "no problems found" in out


def test_inspect_camvid_train_json(camvid_dir, capsys):
    assert main(["data", "inspect", str(camvid_dir), "--split", "train", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 367 and report["read_ok"] == 367
    assert report["num_classes"] == 11 and report["void_index"] == 11
    assert report["sizes"] == {"480x360": 367}
    weights = [c["median_frequency_weight"] for c in report["classes"]]
    # Rare classes (pole, sign, pedestrian, bicyclist) weigh most; road least.
    assert min(weights) == weights[3] and weights[10] > 5 * weights[1]
    assert report["problems"] == []


def test_inspect_reports_problems(tmp_path, samples_dir, capsys):
    import shutil

    for sub in ("images", "masks"):
        shutil.copytree(samples_dir / sub, tmp_path / sub)
    victim = sorted((tmp_path / "masks").iterdir())[0]
    victim.write_bytes(victim.read_bytes()[:50])
    assert main(["data", "inspect", str(tmp_path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["read_ok"] == 10 and victim.name in report["problems"][0]


@pytest.mark.parametrize("argv", [["data"], []])
def test_no_action_prints_help_and_fails(argv, capsys):
    assert main(argv) == 2


def test_label_remap_flag(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "images" / "a.png")
    Image.fromarray(np.full((4, 4), 12, np.uint8)).save(tmp_path / "masks" / "a.png")
    assert main(["data", "inspect", str(tmp_path), "--json"]) == 1  # 12 is neither class nor void
    capsys.readouterr()
    assert main(["data", "inspect", str(tmp_path), "--json", "--label-remap", "12:3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["classes"][3]["pixels"] == 16
    assert main(["data", "inspect", str(tmp_path), "--label-remap", "x"]) == 2
