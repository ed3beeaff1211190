"""Matrix files over GPU results: device column, software latency note, disagreement warning, Pareto plot."""

from __future__ import annotations

from pathlib import Path

import pytest


def _result(tmp_path: Path, accel: str | None, agreement: float | None, p50: float) -> dict:
    art = tmp_path / "m_int8.tflite"
    art.write_bytes(b"x" * 100)
    soft = {"name": "llvmpipe (LLVM 15.0.6, 256 bits)", "vendor": "mesa", "software": True}
    return {"artifact": str(art), "format": "tflite", "precision": "int8", "runtime": "litert-compiled",
            "threads": 2, "options": {"accelerator": accel} if accel else {}, "size_bytes": 100,
            "latency_ms": {"p50": p50, "p90": p50}, "fps": 1000 / p50, "peak_rss_mb": 100.0,
            "delegated_share": 0.8, "miou_pct": 50.0, "per_class_iou_pct": {"a": 50.0},
            "confusion_matrix": [[1, 0], [0, 1]], "class_names": ["a", "b"],
            "device": soft if accel else None,
            "cpu_agreement": {"agreement": agreement} if agreement is not None else None}


def test_matrix_marks_software_and_wrong_gpu_rows(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from edgeseg.bench import plots
    from edgeseg.bench.matrix import matrix_rows, write_matrix

    seen = {}

    def fake_pareto(plt, scored, path, left_out=0):
        seen.update(runtimes=[row["runtime"] for _, row in scored], left_out=left_out)
        return path

    monkeypatch.setattr(plots, "_pareto", fake_pareto)
    results = [_result(tmp_path, None, None, 10.0), _result(tmp_path, "gpu", 0.47, 5000.0)]
    write_matrix(results, [], tmp_path / "m")
    rows = matrix_rows(results)
    assert [(r["runtime"], r["device"]) for r in rows] == [("litert-compiled", None),
                                                          ("litert-compiled/gpu", "llvmpipe (mesa, software)")]
    md = (tmp_path / "m" / "matrix.md").read_text()
    assert "not GPU speed" in md and "## Accelerator results that disagree with the CPU" in md and "47.0 %" in md
    # the software device's latency is not on the latency axis
    assert seen == {"runtimes": ["litert-compiled"], "left_out": 1}
