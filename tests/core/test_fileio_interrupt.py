"""A Ctrl-C that lands right after a temporary file is created still leaves nothing behind."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import pytest

from edgeseg.core import fileio


@pytest.fixture
def ctrl_c_after_mkstemp(monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGINT to this process the moment mkstemp has created its file (before the caller can clean up)."""
    real = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        result = real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(fileio.tempfile, "mkstemp", mkstemp)


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")
def test_probe_interrupted_leaves_no_file(tmp_path: Path, ctrl_c_after_mkstemp: None) -> None:
    with pytest.raises(KeyboardInterrupt):
        fileio.check_output_dir(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")
def test_atomic_write_interrupted_leaves_no_file(tmp_path: Path, ctrl_c_after_mkstemp: None) -> None:
    with pytest.raises(KeyboardInterrupt):
        with fileio.atomic_path(tmp_path / "out.bin") as tmp:
            tmp.write_bytes(b"never")
    assert list(tmp_path.iterdir()) == []
