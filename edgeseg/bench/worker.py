"""Subprocess entry point: read a BenchJob as JSON on stdin, print its result as one JSON line."""

from __future__ import annotations

import json
import sys

from edgeseg.bench.runner import BenchJob, run_job
from edgeseg.errors import EdgesegError, one_line


def main() -> int:
    """Run one job; exit 2 with ``{"error": ...}`` for user-caused errors."""
    try:
        job = BenchJob(**json.loads(sys.stdin.read()))
        result = run_job(job)
    except EdgesegError as exc:
        sys.stdout.write(json.dumps({"error": one_line(exc)}) + "\n")
        return 2
    sys.stdout.write(json.dumps(result, default=_default) + "\n")
    return 0


def _default(obj: object) -> object:
    if hasattr(obj, "tolist"):
        return obj.tolist()  # type: ignore[no-any-return]
    return str(obj)


if __name__ == "__main__":
    from edgeseg.core.native_log import silence_teardown

    code = main()
    silence_teardown()
    sys.exit(code)
