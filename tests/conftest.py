"""Shared fixtures: the shipped samples, (when present) ../shared/camvid, the tiny model's committed artifacts,
and Ctrl-C as a terminal has it."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "camvid"
SHARED_CAMVID = REPO.parent / "shared" / "camvid"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The 11 CamVid frames shipped in the repository (images/ + masks/)."""
    return SAMPLES


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A session copy of the committed tiny model (tests/fixtures, no TensorFlow needed), paths by name: h5,
    fp32, int8, dynamic (free batch axis), onnx; manifests beside fp32/int8/onnx."""
    from tests.fixtures import tiny

    return tiny.copy_to(tmp_path_factory.getbasetemp() / "edgeseg_tiny")


@pytest.fixture(scope="session")
def camvid_dir() -> Path:
    """Full CamVid beside the repository; skips the test when it is absent (fresh clone)."""
    if not (SHARED_CAMVID / "train").is_dir():
        pytest.skip("../shared/camvid not present")
    return SHARED_CAMVID


@pytest.fixture
def sigint_as_in_a_terminal():
    """SIGINT raises KeyboardInterrupt in this process and in the processes it starts, as in a terminal.

    A shell that runs the suite in the background (`cmd &` without job control, nohup) starts it with
    SIGINT ignored, and an ignored signal stays ignored across exec, so Python never installs its
    Ctrl-C handler: a Ctrl-C test would then test nothing. A Python-level handler here is reset to
    the default disposition in children at exec, and Python installs its handler there again.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Keep pytest's summary the last output: LiteRT logs its accelerators' teardown at interpreter exit
    (at exit, after pytest has given fd 2 back)."""
    import atexit

    from edgeseg.core.native_log import silence_teardown

    atexit.register(silence_teardown, force=True)
