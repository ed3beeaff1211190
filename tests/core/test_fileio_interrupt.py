"""A Ctrl-C that lands right after a temporary file is created still leaves nothing behind."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from pathlib import Path

import pytest

from edgeseg.core import fileio


@pytest.fixture
def ctrl_c_after_mkstemp(monkeypatch: pytest.MonkeyPatch, sigint_as_in_a_terminal: None):
    """SIGINT to this process the moment mkstemp has created its file (before the caller can clean up),
    with another thread alive, as in a real run (TensorFlow's threads): the kernel may hand the signal
    to any thread that does not block it."""
    real = tempfile.mkstemp
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()

    def mkstemp(*args, **kwargs):
        result = real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(fileio.tempfile, "mkstemp", mkstemp)
    yield
    stop.set()


def test_probe_interrupted_leaves_no_file(tmp_path: Path, ctrl_c_after_mkstemp: None) -> None:
    with pytest.raises(KeyboardInterrupt):
        fileio.check_output_dir(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_interrupted_leaves_no_file(tmp_path: Path, ctrl_c_after_mkstemp: None) -> None:
    with pytest.raises(KeyboardInterrupt):
        with fileio.atomic_path(tmp_path / "out.bin") as tmp:
            tmp.write_bytes(b"never")
    assert list(tmp_path.iterdir()) == []
