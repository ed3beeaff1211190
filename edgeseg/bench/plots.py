"""Matrix plots (matplotlib, Agg, imported lazily): latency vs mIoU with Pareto front, per-class IoU
change vs Keras, confusion matrix of the best artifact."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.bench.device import is_software
from edgeseg.bench.matrix import pareto_front
from edgeseg.core.fileio import atomic_path

log = logging.getLogger(__name__)


def _plt() -> Any:
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    return path


def write_plots(results: list[dict[str, Any]], rows: list[dict[str, Any]], out_dir: Path) -> dict[str, Path]:
    """Write whichever plots the results support; ``{}`` without matplotlib or accuracy numbers."""
    plt = _plt()
    scored = [(r, row) for r, row in zip(results, rows) if r.get("miou_pct") is not None]
    if plt is None or not scored:
        if plt is None:
            log.warning("matplotlib is not installed: no plots")
        return {}
    # a software GPU device's latency is CPU emulation, not GPU speed: never on the latency axis
    timed = [(r, row) for r, row in scored if not is_software(r)]
    left_out = len(scored) - len(timed) if timed else 0  # all software: drawn (flagged), none left out
    files = {"pareto": _pareto(plt, timed or scored, out_dir / "latency_vs_miou.png", left_out)}
    delta = _per_class_delta(plt, results, out_dir / "per_class_iou_delta.png")
    if delta:
        files["per_class_delta"] = delta
    files["confusion"] = _confusion(plt, scored, out_dir / "confusion_best.png")
    return files


def _label(row: dict[str, Any]) -> str:
    return f"{row['format']}/{row['precision']}/{row['runtime']}/t{row['threads'] or '-'}" + \
        (f" [{row['device']}]" if row.get("device") else "")


def label_groups(pts: list[tuple[float, float]], labels: list[str],
                 tol: float = 0.02) -> list[tuple[float, float, str]]:
    """One annotation per cluster of points closer than ``tol`` of the axis spans (labels stacked, one per
    line), so coinciding points (e.g. two runtimes of one file) do not print their labels over each other."""
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    dx = tol * max(max(xs) - min(xs), 1e-9) if pts else 0.0
    dy = tol * max(max(ys) - min(ys), 1e-9) if pts else 0.0
    groups: list[tuple[float, float, list[str]]] = []
    for (x, y), label in zip(pts, labels):
        for gx, gy, members in groups:
            if abs(x - gx) <= dx and abs(y - gy) <= dy:
                members.append(label)
                break
        else:
            groups.append((x, y, [label]))
    return [(x, y, "\n".join(members)) for x, y, members in groups]


def _pareto(plt: Any, scored: list[tuple[dict, dict]], path: Path, left_out: int = 0) -> Path:
    pts = [(row["p50 ms"], row["mIoU %"]) for _, row in scored]
    front = pareto_front(pts)
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.scatter([p[0] for p in pts], [p[1] for p in pts], c="tab:blue")
    for x, y, text in label_groups(pts, [_label(row) for _, row in scored]):
        ax.annotate(text, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points", va="bottom")
    ax.plot([pts[i][0] for i in front], [pts[i][1] for i in front], "r--o", label="Pareto front")
    ax.set_xlabel("p50 latency (ms)")
    ax.set_ylabel("mIoU (%)")
    ax.set_title("latency vs mIoU" + (f" ({left_out} software-device rows left out)" if left_out else ""))
    ax.legend()
    ax.grid(alpha=0.3)
    _save(fig, path)
    plt.close(fig)
    return path


def _per_class_delta(plt: Any, results: list[dict[str, Any]], path: Path) -> Path | None:
    keras = next((r for r in results if r["runtime"] == "keras" and r.get("per_class_iou_pct")), None)
    quant = [r for r in results if r.get("per_class_iou_pct") and r["precision"] not in ("fp32", "keras")
             and r["runtime"] != "keras"]
    if keras is None or not quant:
        return None
    names = list(keras["per_class_iou_pct"])
    seen, series = set(), []
    for r in quant:  # one series per artifact (runtimes give the same predictions up to ties)
        if r["artifact"] in seen:
            continue
        seen.add(r["artifact"])
        d = [(r["per_class_iou_pct"].get(n) or 0.0) - (keras["per_class_iou_pct"].get(n) or 0.0) for n in names]
        series.append((f"{Path(r['artifact']).name}", d))
    fig, ax = plt.subplots(figsize=(max(8, len(names) * 0.8), 5))
    width = 0.8 / len(series)
    x = np.arange(len(names))
    for k, (label, d) in enumerate(series):
        ax.bar(x + k * width - 0.4 + width / 2, d, width, label=label)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x, names, rotation=45, ha="right")
    ax.set_ylabel("IoU change vs Keras (points)")
    ax.set_title("per-class IoU change of quantised artifacts")
    ax.legend(fontsize=7)
    _save(fig, path)
    plt.close(fig)
    return path


def _confusion(plt: Any, scored: list[tuple[dict, dict]], path: Path) -> Path:
    best, row = max(scored, key=lambda s: (s[0]["miou_pct"], -s[1]["p50 ms"]))
    cm = np.asarray(best.get("confusion_matrix") or [[0]], dtype=np.float64)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    names = best.get("class_names") or [str(i) for i in range(len(cm))]
    fig, ax = plt.subplots(figsize=(7, 6))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("truth")
    ax.set_title(f"confusion (row-normalised): {_label(row)}, mIoU {best['miou_pct']:.2f} %")
    fig.colorbar(im, ax=ax)
    _save(fig, path)
    plt.close(fig)
    return path
