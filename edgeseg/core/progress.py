"""A dependency-free progress bar on stderr (quiet when not a terminal unless forced)."""

from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TextIO, TypeVar

T = TypeVar("T")


class Progress:
    """Counts work items and redraws one line: ``label [#####.....] 12/50 3.1/s eta 12s``.

    Args:
        total: Number of items expected (``None`` if unknown).
        label: Text before the bar.
        stream: Where to draw (stderr by default).
        enabled: ``None`` draws only on a terminal; ``False`` never; ``True`` always
            (non-terminal streams get one line per 10 % instead of redraws).
    """

    def __init__(self, total: int | None, label: str = "", stream: TextIO | None = None,
                 enabled: bool | None = None) -> None:
        self.total = total
        self.label = label
        self.stream = stream or sys.stderr
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.enabled = tty if enabled is None else enabled
        self.tty = tty
        self.count = 0
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._last_decile = -1

    def update(self, n: int = 1, suffix: str = "") -> None:
        """Advance by ``n`` items; ``suffix`` is shown after the counts (e.g. a running loss)."""
        self.count += n
        if not self.enabled:
            return
        now = time.perf_counter()
        done = self.total is not None and self.count >= self.total
        if self.tty:
            if now - self._last_draw < 0.1 and not done:
                return
            self._last_draw = now
            self.stream.write("\r" + self._render(now, suffix) + ("\n" if done else ""))
        else:
            decile = int(10 * self.count / self.total) if self.total else self.count // 100
            if decile == self._last_decile and not done:
                return
            self._last_decile = decile
            self.stream.write(self._render(now, suffix) + "\n")
        self.stream.flush()

    def _render(self, now: float, suffix: str) -> str:
        elapsed = max(now - self.start, 1e-9)
        rate = self.count / elapsed
        if self.total:
            frac = min(self.count / self.total, 1.0)
            bar = "#" * int(frac * 24) + "." * (24 - int(frac * 24))
            eta = (self.total - self.count) / rate if rate > 0 else 0.0
            text = f"{self.label} [{bar}] {self.count}/{self.total} {rate:.1f}/s eta {eta:.0f}s"
        else:
            text = f"{self.label} {self.count} {rate:.1f}/s"
        return f"{text} {suffix}".rstrip()

    def close(self) -> None:
        """Finish the line if a redraw was left open."""
        if self.enabled and self.tty and not (self.total is not None and self.count >= self.total):
            self.stream.write("\n")
            self.stream.flush()


def track(items: Iterable[T], total: int | None = None, label: str = "",
          enabled: bool | None = None) -> Iterator[T]:
    """Iterate ``items`` while drawing a :class:`Progress` bar."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    bar = Progress(total, label, enabled=enabled)
    try:
        for item in items:
            yield item
            bar.update()
    finally:
        bar.close()
