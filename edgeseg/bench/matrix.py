"""The format x precision x runtime matrix: rows from bench results, Pareto front, md/json/csv files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from edgeseg.bench.device import agreement_warning, device_label, runtime_label, software_note
from edgeseg.core.fileio import write_text_atomic
from edgeseg.core.table import format_table

COLUMNS = ["format", "precision", "runtime", "device", "threads", "size MB", "mIoU %", "dmIoU vs Keras (pts)", "p50 ms",
           "p90 ms",
           "FPS", "peak RSS MB", "% ops delegated", "artifact"]


def _keras_miou(results: list[dict[str, Any]], threads: Any) -> float | None:
    ks = [r for r in results if r["runtime"] == "keras" and r.get("miou_pct") is not None]
    same = [r for r in ks if r["threads"] == threads]
    pick = same or ks
    return pick[0]["miou_pct"] if pick else None


def matrix_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per result, mIoU in percent and its change against the Keras baseline in points (same thread
    count if measured)."""
    rows = []
    for r in results:
        base = _keras_miou(results, r["threads"])
        miou = r.get("miou_pct")
        share = r.get("delegated_share")
        lat = r["latency_ms"]
        rows.append({
            "format": r["format"], "precision": r["precision"], "runtime": runtime_label(r),
            "device": device_label(r), "threads": r["threads"],
            "size MB": round(r["size_bytes"] / 1e6, 3), "mIoU %": None if miou is None else round(miou, 2),
            "dmIoU vs Keras (pts)": None if miou is None or base is None else round(miou - base, 2) + 0.0,
            "p50 ms": round(lat["p50"], 3), "p90 ms": round(lat["p90"], 3),
            "FPS": None if r.get("fps") is None else round(r["fps"], 1),
            "peak RSS MB": None if r.get("peak_rss_mb") is None else round(r["peak_rss_mb"], 1),
            "% ops delegated": None if share is None else round(100 * share, 1),
            "artifact": Path(r["artifact"]).name,
        })
    return rows


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points not dominated in (lower latency, higher mIoU), sorted by latency."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def to_csv(rows: list[dict[str, Any]]) -> str:
    """CSV text of the matrix rows."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS)
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r[k] is None else r[k]) for k in COLUMNS})
    return buf.getvalue()


def table(rows: list[dict[str, Any]], markdown: bool = False) -> str:
    """Terminal or Markdown table of the matrix."""
    return format_table(COLUMNS, [[r[c] for c in COLUMNS] for r in rows], markdown=markdown)


def write_matrix(results: list[dict[str, Any]], failures: list[dict[str, Any]], out_dir: Path,
                 extra: dict[str, Any] | None = None) -> dict[str, Path]:
    """matrix.md, matrix.json, matrix.csv and the plots (when matplotlib is installed) under ``out_dir``."""
    from edgeseg.bench.system import machine_info, versions

    rows = matrix_rows(results)
    files = {"md": out_dir / "matrix.md", "json": out_dir / "matrix.json", "csv": out_dir / "matrix.csv"}
    m, v = machine_info(), versions()
    md = [f"# edgeseg matrix\n", f"Machine: {m['cpu']}, {m['cores']} cores; litert {v['litert']}, "
          f"onnxruntime {v['onnxruntime']}, edgeseg {v['edgeseg']}.\n", table(rows, markdown=True), ""]
    notes = sorted({f"- {runtime_label(r)}: {software_note(r)}" for r in results if software_note(r)})
    if notes:
        md += ["Software devices (their rows are left out of the latency plot):", "", *notes, ""]
    wrong = [f"- **{Path(r['artifact']).name} [{runtime_label(r)}]**: {agreement_warning(r)}" for r in results
             if agreement_warning(r)]
    if wrong:
        md += ["## Accelerator results that disagree with the CPU", "", *wrong, ""]
    if failures:
        md += ["## Failures", ""] + [f"- {f['artifact']} [{f['runtime']}, threads={f['threads']}]: {f['error']}"
                                     for f in failures] + [""]
    write_text_atomic(files["md"], "\n".join(md))
    doc = {"rows": rows, "results": results, "failures": failures, "machine": m, "versions": v, **(extra or {})}
    write_text_atomic(files["json"], json.dumps(doc, indent=2, default=str) + "\n")
    write_text_atomic(files["csv"], to_csv(rows))
    try:
        from edgeseg.bench.plots import write_plots
    except ImportError:  # pragma: no cover
        return files
    files.update(write_plots(results, rows, out_dir))
    return files
