"""Issue 22: every runtime gets the same stated thread count, mIoU is in percent, ``bench --json`` is a flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeseg import runtime
from edgeseg.cli.main import main

FAST = ["--runs", "2", "--min-time", "0", "--warmup-runs", "0", "--warmup-time", "0"]


def test_one_thread_default_for_every_runtime(tiny) -> None:
    n = runtime.default_threads()
    assert n >= 1
    for name in ("fp32", "onnx"):
        with runtime.load(tiny[name]) as be:
            assert be.threads == n and be.describe()["threads"] == n, name
    with runtime.load(tiny["onnx"]) as be:  # the engine itself was told, not only the report
        assert be._so.intra_op_num_threads == n


def test_bench_rows_and_json_state_the_threads_used(tiny, tmp_path, capsys) -> None:
    out = tmp_path / "r.json"
    rc = main(["bench", str(tiny["fp32"]), str(tiny["onnx"]), "--no-isolate", *FAST, "--json-out", str(out)])
    assert rc == 0, capsys.readouterr().err
    n = runtime.default_threads()
    report = json.loads(out.read_text())
    assert [r["threads"] for r in report["results"]] == [n, n]
    table = capsys.readouterr().out
    header, _, *rows = table.splitlines()
    col = header.split().index("threads")
    for row in rows[:2]:
        assert row.split()[col] == str(n), row


def test_bench_json_is_a_plain_flag(tiny, capsys) -> None:
    assert main(["bench", str(tiny["fp32"]), "--json", "--no-isolate", *FAST]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)  # stdout is the JSON and nothing else
    assert report["threads"] == runtime.default_threads() and report["runtime"] == "litert"


def test_old_json_file_form_still_writes_the_file(tiny, tmp_path, capsys) -> None:
    out = tmp_path / "old.json"
    assert main(["bench", str(tiny["fp32"]), "--no-isolate", *FAST, "--json", str(out)]) == 0
    cap = capsys.readouterr()
    assert json.loads(out.read_text())["runtime"] == "litert"
    assert "--json-out" in cap.err and "p50 ms" in cap.out


def test_json_before_an_artifact_does_not_eat_it(tiny, capsys) -> None:
    onnx = Path(tiny["onnx"])
    before = onnx.read_bytes()
    assert main(["bench", str(tiny["fp32"]), "--json", str(onnx), "--no-isolate", *FAST]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["runtime"] for r in report["results"]] == ["litert", "onnxruntime"]
    assert onnx.read_bytes() == before


def test_bench_data_miou_in_percent(tiny, samples_dir, capsys) -> None:
    assert main(["bench", str(tiny["fp32"]), "--data", str(samples_dir), "--no-isolate", *FAST, "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    from edgeseg.core.metrics import scores_from_matrix

    fraction = scores_from_matrix(r["confusion_matrix"]).miou
    assert r["miou_pct"] == pytest.approx(100 * fraction) and "miou" not in r
    assert main(["bench", str(tiny["fp32"]), "--data", str(samples_dir), "--no-isolate", *FAST]) == 0
    out = capsys.readouterr().out
    header, _, row = out.splitlines()[:3]
    assert header.split()[-2:] == ["mIoU", "%"]
    assert float(row.split()[-1]) == pytest.approx(100 * fraction, abs=0.006)


def test_plots_label_percent_and_points(tmp_path, monkeypatch) -> None:
    pytest.importorskip("matplotlib")  # the `plots` extra, not part of a device install
    from edgeseg.bench import plots
    from edgeseg.bench.matrix import matrix_rows

    def result(runtime, precision, miou, road):
        return {"artifact": f"m_{precision}.x", "format": "tflite", "precision": precision, "runtime": runtime,
                "threads": 2, "size_bytes": 1000, "latency_ms": {"p50": 5.0, "p90": 6.0}, "fps": 200.0,
                "peak_rss_mb": 50.0, "delegated_share": None, "miou_pct": miou,
                "per_class_iou_pct": {"Road": road, "Sky": 90.0}, "confusion_matrix": [[5, 1], [0, 4]],
                "class_names": ["Road", "Sky"]}

    results = [result("keras", "fp32", 58.03, 94.3), result("litert", "int8", 57.62, 94.2)]
    rows = matrix_rows(results)
    assert [r["dmIoU vs Keras (pts)"] for r in rows] == [0.0, -0.41]
    seen = {}

    def keep(fig, path):
        ax = fig.axes[0]
        seen[path.name] = (ax.get_xlabel(), ax.get_ylabel(), ax.get_title())
        return path

    monkeypatch.setattr(plots, "_save", keep)
    plots.write_plots(results, rows, tmp_path)
    assert seen["latency_vs_miou.png"][1] == "mIoU (%)"
    assert seen["per_class_iou_delta.png"][1] == "IoU change vs Keras (points)"
    assert seen["confusion_best.png"][2].endswith("mIoU 58.03 %")


def test_old_json_file_without_json_suffix_and_errors_stay_one_line(tiny, tmp_path, capsys) -> None:
    out = tmp_path / "report"  # the old form with any file name: still written, the note comes after
    assert main(["bench", str(tiny["fp32"]), "--no-isolate", *FAST, "--json", str(out)]) == 0
    assert json.loads(out.read_text())["runtime"] == "litert"
    assert capsys.readouterr().err.endswith(f"note: '--json FILE' is now '--json-out FILE' (wrote {out})\n")
    bad = tmp_path / "a_file"
    bad.write_text("x")
    assert main(["bench", str(tiny["fp32"]), *FAST, "--json", str(bad / "r.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
