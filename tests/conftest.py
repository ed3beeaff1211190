"""Shared fixtures: paths to the shipped samples and (when present) ../shared/camvid."""

from __future__ import annotations

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
def camvid_dir() -> Path:
    """Full CamVid beside the repository; skips the test when it is absent (fresh clone)."""
    if not (SHARED_CAMVID / "train").is_dir():
        pytest.skip("../shared/camvid not present")
    return SHARED_CAMVID
