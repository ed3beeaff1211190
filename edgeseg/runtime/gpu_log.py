"""What LiteRT's GPU accelerator placed where, and on which adapter, read from the log it writes while compiling.

ai-edge-litert 2.3's ``CompiledModel`` exposes no per-op placement, and ``is_fully_accelerated()`` says True
while ops run on the CPU fallback (ENet fp32: 23 of 129 ops on the CPU). The GPU delegate logs its
partitioning of the compiled graph on fd 2 (captured with :func:`edgeseg.core.native_log.native_stderr`):

- ``ERROR: Following operations are not supported by GPU delegate:`` then ``OP: reason`` lines;
- ``N operations will run on the GPU, and the remaining M operations will run on the CPU.``
  (or ``No operations will run on the GPU, and all M operations will run on the CPU.``);
- nothing of the two when every op is placed, then only ``Initializing WebGPU-based API from graph.``
  (one line per GPU partition);
- ``Selected adapter: NAME, arch=..., vendor=..., backend=Vulkan, adapterType=CPU / Software`` on the
  first GPU compile of a process.
"""

from __future__ import annotations

import re
from typing import Any

_ADAPTER = re.compile(r"Selected adapter: (?P<name>.+?), arch=(?P<arch>[^,]*), vendor=(?P<vendor>[^,]*), "
                      r"backend=(?P<backend>[^,]*), adapterType=(?P<type>.+?)\s*$", re.M)
_SPLIT = re.compile(r"(\d+) operations will run on the GPU, and the remaining (\d+) operations will run on the CPU")
_NONE = re.compile(r"No operations will run on the GPU, and all (\d+) operations will run on the CPU")
_INIT = re.compile(r"Initializ\w+ (\w+)-based API from graph")
_UNSUPPORTED_HEAD = "Following operations are not supported by GPU delegate:"
_OP_LINE = re.compile(r"^([A-Z][A-Z0-9_]*):\s*(.*)$")


def adapter(text: str) -> dict[str, Any] | None:
    """The adapter LiteRT selected, as it logged it, or ``None`` (it logs it once per process)."""
    m = _ADAPTER.search(text)
    if m is None:
        return None
    kind = m["type"].strip()
    return {"name": m["name"].strip(), "vendor": m["vendor"].strip(), "backend": m["backend"].strip(),
            "arch": m["arch"].strip(), "adapter_type": kind,
            "software": "software" in kind.lower() or "cpu" in kind.lower() or m["arch"].strip() == "software"}


def unsupported(text: str) -> dict[str, str]:
    """``{op: reason}`` from the delegate's "not supported" block (empty when every op was accepted)."""
    out: dict[str, str] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if _UNSUPPORTED_HEAD not in line:
            continue
        for nxt in lines[i + 1:]:
            m = _OP_LINE.match(nxt.strip())
            if m is None:
                break
            out[m[1]] = m[2].strip()
    return out


def placement(text: str, total_ops: int) -> dict[str, Any]:
    """GPU/CPU op counts of the compiled graph: ``{"delegated", "cpu", "total", "partitions", "unsupported"}``.

    ``delegated`` is ``None`` when the log says nothing about the GPU (not captured, e.g.
    ``EDGESEG_NATIVE_STDERR=1``); ``total`` is the delegate's own count when it printed one.
    """
    partitions = len(_INIT.findall(text))
    m = _SPLIT.search(text)
    if m is not None:
        gpu, cpu = int(m[1]), int(m[2])
    elif (n := _NONE.search(text)) is not None:
        gpu, cpu = 0, int(n[1])
    elif partitions:
        gpu, cpu = total_ops, 0
    else:
        return {"delegated": None, "cpu": None, "total": total_ops, "partitions": None, "unsupported": None}
    return {"delegated": gpu, "cpu": cpu, "total": gpu + cpu, "partitions": partitions,
            "unsupported": unsupported(text)}
