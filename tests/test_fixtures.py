"""The committed tiny-model artifacts (tests/fixtures) are complete, small, and what their script builds.

``tests/runtime`` and ``tests/bench`` read these files instead of converting a model at test time, so they
run on a device install without TensorFlow. Where TensorFlow is installed, the checks below re-run Keras
and the build script, so a stale file or a rotted script fails here rather than passing silently.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures import tiny

MAX_BYTES = 1_000_000  # all of them together: ~0.5 MB today, most of it the reference logits


def test_committed_files_are_complete_and_small(tmp_path: Path, samples_dir: Path) -> None:
    names = [*tiny.FILES.values(), *(f"{tiny.FILES[k]}.json" for k in tiny.MANIFESTS), tiny.REFERENCE]
    sizes = {n: (tiny.HERE / n).stat().st_size for n in names}
    assert all(sizes.values()) and sum(sizes.values()) < MAX_BYTES, sizes
    paths = tiny.copy_to(tmp_path)
    assert set(paths) == set(tiny.FILES) and all(p.parent == tmp_path for p in paths.values())
    batch, logits = tiny.reference()
    assert batch.shape == (2, *tiny.SIZE, 3) and logits.shape == (2, *tiny.SIZE, tiny.NUM_CLASSES)
    assert logits.dtype == np.float32
    np.testing.assert_allclose(tiny.reference_batch(samples_dir), batch, atol=1e-6)


def test_reference_logits_are_keras(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow", reason="re-running Keras needs TensorFlow")
    from edgeseg import runtime

    batch, logits = tiny.reference()
    with runtime.load(tiny.copy_to(tmp_path)["h5"], threads=1) as be:
        assert be.name == "keras"
        np.testing.assert_allclose(be.run(batch), logits, atol=1e-5)


def _outputs(paths: dict[str, Path], batch: np.ndarray) -> dict[str, tuple[np.ndarray, float | None]]:
    from edgeseg import runtime

    got = {}
    for key in ("fp32", "int8", "dynamic", "onnx"):
        with runtime.load(paths[key], threads=1) as be:
            got[key] = (be.run(batch), be.output.scale)
    return got


@pytest.mark.slow
def test_the_script_rebuilds_the_committed_files(tmp_path: Path, samples_dir: Path) -> None:
    """``python -m tests.fixtures.tiny`` (into a temporary folder here) gives files that compute what the
    committed ones compute: float outputs within 1e-5, int8 within one output quantisation step."""
    pytest.importorskip("tensorflow", reason="rebuilding needs TensorFlow")
    pytest.importorskip("tf2onnx", reason="rebuilding needs tf2onnx")
    rebuilt = tiny.build(tmp_path / "rebuilt", samples_dir)
    batch, logits = tiny.reference()
    new_batch, new_logits = tiny.reference(tmp_path / "rebuilt")
    np.testing.assert_allclose(new_batch, batch, atol=1e-6)
    np.testing.assert_allclose(new_logits, logits, atol=1e-5)
    old, new = _outputs(tiny.copy_to(tmp_path / "committed"), batch), _outputs(rebuilt, batch)
    for key, (y, scale) in old.items():
        assert new[key][1] == pytest.approx(scale, rel=1e-6) if scale else new[key][1] is None, key
        np.testing.assert_allclose(new[key][0], y, atol=(scale or 0) * 1.001 + 1e-5, err_msg=key)
    for key in tiny.MANIFESTS:
        name = f"{tiny.FILES[key]}.json"
        a, b = (json.loads((d / name).read_text()) for d in (tiny.HERE, tmp_path / "rebuilt"))
        a.pop("edgeseg_version", None), b.pop("edgeseg_version", None)
        assert a == b, name
