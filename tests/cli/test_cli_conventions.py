"""Issue 22: CLI conventions (defaults in --help, -v after the subcommand, --targets choices) and
`data inspect` reporting every problem plus its per-sequence table."""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import pytest

from edgeseg.cli.main import build_parser, main


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main([*argv, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())


def _option_help(text: str, option: str) -> str:
    """The help text of one option (not its usage line mention, which is in brackets)."""
    start = re.search(rf"(?<![\[|]){re.escape(option)}[ ,]", text).start()
    nxt = re.search(r" --?[a-z]", text[start + len(option) + 2:])
    return text[start:start + len(option) + 2 + (nxt.start() if nxt else 300)]


def _walk(parser: argparse.ArgumentParser, name: str = "edgeseg"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, child in action.choices.items():
                yield from _walk(child, f"{name} {sub}")
        else:
            yield name, parser, action


def test_every_option_with_a_value_default_states_it_in_help() -> None:
    missing = []
    for name, parser, action in _walk(build_parser()):
        if not action.option_strings or action.default in (None, False, argparse.SUPPRESS) or action.nargs == 0:
            continue
        if "default" not in parser._get_formatter()._get_help_string(action):
            missing.append(f"{name} {action.option_strings[-1]}")
    assert not missing, missing


@pytest.mark.parametrize("argv, option, shown", [
    (("train",), "--batch-size", "default: 8"),
    (("train",), "--optimizer", "default: adam"),
    (("convert",), "--head", "default: logits"),
    (("convert",), "--threads", "default: the usable CPU cores"),
    (("predict",), "--threads", "default: the usable CPU cores"),
    (("bench",), "--threads", "default: the usable CPU cores"),
    (("bench",), "--split", "default: its only split"),
])
def test_named_defaults_in_help(capsys, argv, option, shown) -> None:
    after = _option_help(_help(capsys, *argv), option)
    assert shown in after, after


def test_targets_lists_its_choices(capsys) -> None:
    after = _option_help(_help(capsys, "bench"), "--targets")
    for target in ("fp32", "fp16", "dynamic", "int8", "int16x8", "onnx", "onnx-fp16", "onnx-int8"):
        assert target in after


@pytest.mark.parametrize("argv", [["data", "inspect", "X", "-v"], ["bench", "a.tflite", "-vv"],
                                  ["convert", "m.h5", "--fp32", "-v"], ["models", "-v"]])
def test_verbose_after_the_subcommand(argv) -> None:
    args = build_parser().parse_args(argv)
    assert args.verbose >= 1


def test_verbose_before_the_subcommand_still_works() -> None:
    assert build_parser().parse_args(["-vv", "models"]).verbose == 2


def test_inspect_classes_line_is_not_arithmetic(samples_dir, capsys) -> None:
    assert main(["data", "inspect", str(samples_dir)]) == 0
    out = capsys.readouterr().out
    assert "classes   11 (+ void label 11;" in out and "+ void = 11" not in out


def _copy_samples(samples_dir: Path, dst: Path) -> Path:
    for sub in ("images", "masks"):
        shutil.copytree(samples_dir / sub, dst / sub)
    return dst


def test_inspect_reports_every_problem_with_exit_1(samples_dir, tmp_path, capsys) -> None:
    root = _copy_samples(samples_dir, tmp_path / "ds")
    masks = sorted((root / "masks").iterdir())
    masks[0].unlink()                                   # image 0 unpaired
    masks[1].unlink()                                   # image 1 unpaired
    (root / "masks" / "orphan_00001.png").write_bytes(masks[2].read_bytes())  # mask without image
    (root / "images" / "notes.txt").write_text("x")     # stray file
    jpeg = masks[3].with_suffix(".jpg")                 # a lossy mask beside its PNG
    from PIL import Image

    with Image.open(masks[3]) as m:
        m.convert("L").save(jpeg)
    assert main(["data", "inspect", str(root), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    problems = "\n".join(report["problems"])
    assert masks[0].stem in problems and masks[1].stem in problems, problems
    assert "orphan_00001.png" in problems and "notes.txt" in problems
    assert f"{jpeg.name}: masks must be lossless PNG/BMP" in problems
    assert len(report["problems"]) == 5 and report["images"] == 9
    # the text report lists them all too, with exit 1 (not 2 at the first)
    assert main(["data", "inspect", str(root)]) == 1
    out = capsys.readouterr().out
    assert "5 problem(s):" in out and "orphan_00001.png" in out


def test_inspect_per_sequence_table(samples_dir, tmp_path, capsys) -> None:
    root = _copy_samples(samples_dir, tmp_path / "ds")
    for sub, ext in (("images", ".jpg"), ("masks", ".png")):
        first = sorted((root / sub).iterdir())[0]
        first.rename(root / sub / f"Seq05VD_f00030{ext}")
    assert main(["data", "inspect", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sequences"] == {"0016E5": 10, "Seq05VD": 1}
    assert main(["data", "inspect", str(root)]) == 0
    out = capsys.readouterr().out
    assert "2 sequence(s)" in out
    assert any(line.split() == ["Seq05VD", "1"] for line in out.splitlines())
