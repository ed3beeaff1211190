"""The guard's outcomes by file on disk, with stub candidates and a stub scorer (no conversion): what stays under
the final name when one fits, when nothing fits, and with --integer-only."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeseg.export import guard
from edgeseg.export.base import ArtifactInfo

# file content -> mIoU (0..1); Keras scores 1.0, so the drop is 100 * (1 - mIoU) points
MIOU = {b"plain": 0.80, b"int16x8": 0.90, b"int8+1": 0.85, b"int8+2": 0.97, b"int8+all": 0.95}


class StubScorer:
    keras_miou = 1.0
    frames = [None] * 3

    def miou(self, path: Path) -> float:
        return MIOU[path.read_bytes()]


def _candidates(made: list[str]) -> list[guard.Candidate]:
    def maker(content: bytes):
        def make(path: Path) -> ArtifactInfo:
            made.append(content.decode())
            path.write_bytes(content)
            return ArtifactInfo(path, "tflite", "int8", len(content), {}, {})
        return make

    return [guard.Candidate("int16x8 activations", {"activations": "int16"}, maker(b"int16x8"), integer_only=True),
            guard.Candidate("int8 + 1 float op", {"float_nodes": ["a"]}, maker(b"int8+1")),
            guard.Candidate("int8 + 2 float ops", {"float_nodes": ["a", "b"]}, maker(b"int8+2")),
            guard.Candidate("int8 + all float ops", {"float_nodes": ["a", "b", "c"]}, maker(b"int8+all"))]


def _guard(tmp_path: Path, max_drop: float, integer_only: bool = False):
    out = tmp_path / "out"
    out.mkdir()
    final = out / "m_int8.tflite"
    final.write_bytes(b"plain")
    made: list[str] = []
    report, info = guard.guard_artifact({"path": str(final), "target": "int8", "size_bytes": 5}, _candidates(made),
                                        StubScorer(), max_drop, integer_only=integer_only)
    return report, info, final, made


def _check_outcome(report, final: Path, expect: bytes, chosen: int, met: bool) -> None:
    assert [p.name for p in final.parent.iterdir()] == [final.name]  # no candidate left beside it
    assert final.read_bytes() == expect, final.read_bytes()
    assert report.chosen == chosen and report.met is met
    if not met:  # nothing fits: the smallest drop is kept
        assert report.steps[chosen]["drop"] == min(s["drop"] for s in report.steps)


def test_first_candidate_within_budget_is_kept_and_the_rest_not_made(tmp_path: Path) -> None:
    report, info, final, made = _guard(tmp_path, max_drop=5.0)
    assert made == ["int16x8", "int8+1", "int8+2"]  # stops at the first that fits (drop 3)
    _check_outcome(report, final, b"int8+2", 3, True)
    assert info is not None and info.path == final


def test_nothing_fits_keeps_the_smallest_drop(tmp_path: Path) -> None:
    """Budget 1 point: every candidate is tried, none fits; the file with the smallest drop (3 points, not the
    last one tried) is left under the final name."""
    report, info, final, made = _guard(tmp_path, max_drop=1.0)
    assert made == ["int16x8", "int8+1", "int8+2", "int8+all"]
    assert [s["drop"] for s in report.steps] == pytest.approx([20.0, 10.0, 15.0, 3.0, 5.0])
    _check_outcome(report, final, b"int8+2", 3, False)


def test_integer_only_never_makes_float_candidates(tmp_path: Path) -> None:
    report, info, final, made = _guard(tmp_path, max_drop=1.0, integer_only=True)
    assert made == ["int16x8"] and [s["config"] for s in report.steps] == ["int8 (plain)", "int16x8 activations"]
    _check_outcome(report, final, b"int16x8", 1, False)


def test_plain_artifact_stays_when_no_candidate_is_better(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MIOU, b"int16x8", 0.70)
    report, info, final, made = _guard(tmp_path, max_drop=1.0, integer_only=True)
    _check_outcome(report, final, b"plain", 0, False)
    assert info is None


def test_outcome_check_catches_a_guard_that_keeps_the_last_try(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation: 'better' replaced by 'latest' leaves the last candidate (drop 5) instead of the best (drop 3)."""
    monkeypatch.setattr(guard, "_better", lambda report: True)
    report, info, final, made = _guard(tmp_path, max_drop=1.0)
    with pytest.raises(AssertionError):
        _check_outcome(report, final, b"int8+2", 3, False)
