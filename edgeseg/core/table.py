"""Plain-text and Markdown tables for terminal output and reports."""

from __future__ import annotations

from typing import Any, Sequence


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != v:  # NaN
            return "-"
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"
    return str(v)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], markdown: bool = False) -> str:
    """Render ``rows`` under ``headers``; numbers right-aligned. ``markdown`` gives a GitHub table."""
    cells = [[_cell(v) for v in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [all(isinstance(r[i], (int, float)) or r[i] is None for r in rows) and rows != []
               for i in range(len(headers))]

    def line(vals: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(vals, widths, numeric)]
        return ("| " + " | ".join(parts) + " |") if markdown else "  ".join(parts).rstrip()

    out = [line(list(headers))]
    if markdown:
        out.append("| " + " | ".join(("-" * (w - 1) + ":") if num else "-" * w
                                     for w, num in zip(widths, numeric)) + " |")
    else:
        out.append("  ".join("-" * w for w in widths))
    out.extend(line(r) for r in cells)
    return "\n".join(out)
