"""Capture what native libraries (TensorFlow, LiteRT) write straight to file descriptor 2.

Their C++ loggers ignore Python's ``logging`` and, since TensorFlow moved to absl logging, also
``TF_CPP_MIN_LOG_LEVEL`` for messages printed before ``absl::InitializeLog()`` (the oneDNN and
CUDA notices of ``import tensorflow``, LiteRT's "Created TensorFlow Lite XNNPACK delegate").
Those lines would otherwise precede every ``error: ...`` line of the CLI. :func:`native_stderr`
redirects fd 2 to a temporary file for the duration of a block and hands the text to ``logging``
at DEBUG (``edgeseg -vv`` shows it); the text is also returned for error messages.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from typing import Iterator

log = logging.getLogger(__name__)

#: Set to ``1`` to leave native stderr untouched (debugging a crash in a native library).
ENV_KEEP = "EDGESEG_NATIVE_STDERR"


class Captured:
    """The text captured by :func:`native_stderr` (filled when the block exits)."""

    def __init__(self) -> None:
        self.text = ""

    def last_error(self) -> str | None:
        """The last line that looks like an error, for one-line messages."""
        lines = [ln.strip() for ln in self.text.splitlines() if ln.strip()]
        errs = [ln for ln in lines if ln.startswith(("ERROR", "E0", "F0")) or "error" in ln.lower()]
        return (errs or [None])[-1]


def silence_teardown(*, force: bool = False) -> None:
    """Native libraries log at process exit (LiteRT: ``INFO: ... DestroyAccelerator``), after every line of
    ours: point fd 2 at /dev/null for the interpreter's teardown, unless logs were asked for (``-v``, or
    ``EDGESEG_NATIVE_STDERR=1``; ``force`` ignores the log level). Call it last, just before exiting."""
    verbose = logging.getLogger().getEffectiveLevel() < logging.WARNING
    if os.environ.get(ENV_KEEP) == "1" or (verbose and not force):
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    except (OSError, ValueError, AttributeError):
        pass


@contextlib.contextmanager
def native_stderr(what: str = "native library", fd: int = 2) -> Iterator[Captured]:
    """Redirect fd 2 (or ``fd``: LiteRT's GPU accelerator prints to fd 1 too) into a temp file inside the
    block; log the captured lines at DEBUG."""
    out = Captured()
    stream = sys.stdout if fd == 1 else sys.stderr
    if os.environ.get(ENV_KEEP) == "1":
        yield out
        return
    try:
        stream.flush()
        saved = os.dup(fd)
    except (OSError, ValueError, AttributeError):  # no usable fd (embedded interpreter): nothing to do
        yield out
        return
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield out
        finally:
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            out.text = tmp.read().decode("utf-8", "replace")
            for line in out.text.splitlines():
                if line.strip():
                    log.debug("%s: %s", what, line.rstrip())
