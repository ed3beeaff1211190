"""errors.one_line: the one way an exception becomes part of a one-line message."""

from __future__ import annotations

from edgeseg.errors import ModelError, one_line


def test_one_line_collapses_whitespace_names_empty_errors_and_cuts_long_text() -> None:
    assert one_line(ValueError("bad\n  shape\t(3, 4)")) == "bad shape (3, 4)"
    assert one_line(KeyError()) == "KeyError" and one_line("") == "unknown error"
    assert one_line(ModelError("x" * 50), 10) == "x" * 10 + "..."
    assert one_line("short", 10) == "short"
    assert "\n" not in one_line(RuntimeError("a\nb\nc"), 3)
