"""Bench reports from result dicts: the JSON document, the results table and the per-class table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeseg.core.table import format_table

HEADERS = ["artifact", "precision", "runtime", "threads", "size MB", "init ms", "first ms", "min ms", "p50 ms",
           "p90 ms", "p99 ms", "mean ± std", "FPS", "peak RSS MB", "% delegated", "mIoU %"]


def json_safe(obj: Any) -> Any:
    """``obj`` with every NaN float replaced by ``None`` (JSON ``null``) in nested dicts, lists and tuples."""
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def make_report(results: list[dict[str, Any]], failures: list[dict[str, Any]]) -> dict[str, Any]:
    """A single result as-is (with machine/versions); several under ``results``."""
    from edgeseg.bench.system import machine_info, versions

    if len(results) == 1 and not failures:
        return results[0]
    return {"results": results, "failures": failures, "machine": machine_info(), "versions": versions()}


def report_json(report: dict[str, Any]) -> str:
    """The report as indented JSON text (NaN as ``null``), ending in a newline."""
    return json.dumps(json_safe(report), indent=2) + "\n"


def rounded(v: Any, nd: int = 3) -> Any:
    """``v`` rounded to ``nd`` decimals; ``None`` stays ``None``."""
    return None if v is None else round(float(v), nd)


def result_row(r: dict[str, Any]) -> list[Any]:
    """One table row of a bench result (columns: :data:`HEADERS`)."""
    from edgeseg.bench.device import runtime_cell

    lat = r["latency_ms"]
    share = r.get("delegated_share")
    return [Path(r["artifact"]).name, r["precision"], runtime_cell(r), r["threads"],
            round(r["size_bytes"] / 1e6, 3), rounded(lat["init"]), rounded(lat["first"]), rounded(lat["min"]),
            rounded(lat["p50"]), rounded(lat["p90"]), rounded(lat["p99"]), f"{lat['mean']:.3g} ± {lat['std']:.2g}",
            rounded(r["fps"], 1), rounded(r["peak_rss_mb"], 1), None if share is None else round(100 * share, 1),
            None if r.get("miou_pct") is None else round(r["miou_pct"], 2)]


def format_results(results: list[dict[str, Any]], markdown: bool = False) -> str:
    """The terminal/markdown table of bench results."""
    return format_table(HEADERS, [result_row(r) for r in results], markdown=markdown)


def format_per_class(results: list[dict[str, Any]], markdown: bool = False) -> str:
    """Per-class IoU, precision and recall of every result that was scored (``--data``); '' if none was."""
    scored = [r for r in results if r.get("per_class_iou_pct")]
    if not scored:
        return ""
    names = list(scored[0]["per_class_iou_pct"])
    headers = ["class"]
    for r in scored:
        tag = f"{Path(r['artifact']).name} [{r['runtime']}]" if len(scored) > 1 else ""
        headers += [f"{tag} IoU".strip(), "prec", "recall"]

    def pct(d: dict[str, Any] | None, name: str) -> Any:
        v = None if d is None else d.get(name)
        return None if v is None else round(v, 1)

    rows = [[n] + [pct(r.get(k), n) for r in scored for k in ("per_class_iou_pct", "per_class_precision_pct",
                                                               "per_class_accuracy_pct")] for n in names]
    return format_table(headers, rows, markdown=markdown)
