"""Which ops XNNPACK takes, fp32 and full-integer int8, for every zoo architecture at its default
options (the figures in docs/models.md).

Usage: .venv/bin/python benchmarks/zoo_delegation.py [--size 96x128] [--models enet unet ...]
Each model is built untrained at --size (rounded up to its output stride; delegation does not
depend on the spatial size), saved as .h5, converted with `edgeseg.export.convert_model`
(int8 calibrated on 4 bundled sample frames) and loaded with LiteRT's Interpreter + XNNPACK.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgeseg import models, runtime  # noqa: E402
from edgeseg.core.spec import parse_size  # noqa: E402
from edgeseg.core.table import format_table  # noqa: E402
from edgeseg.export.convert import convert_model  # noqa: E402

SAMPLES = REPO / "samples" / "camvid"


def _share(path: Path) -> str:
    with runtime.load(path, backend="litert", threads=2) as be:
        d = be.delegated_ops() or {}
    fallback = ", ".join(f"{op} x{n}" for op, n in sorted((d.get("fallback") or {}).items()))
    return f"{d.get('delegated')}/{d.get('total')}" + (f" (off: {fallback})" if fallback else "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="96x128")
    ap.add_argument("--models", nargs="*", default=None)
    args = ap.parse_args()
    h, w = parse_size(args.size)
    rows = []
    for name in args.models or models.list_models():
        m = models.input_multiple(name)
        size = (-(-h // m) * m, -(-w // m) * m)
        with tempfile.TemporaryDirectory() as tmp:
            h5 = Path(tmp) / f"{name}.h5"
            models.build(name, 11, size).save(h5)
            results = convert_model(h5, ["fp32", "int8"], tmp, calib=SAMPLES, calib_count=4, verify_data=SAMPLES)
            shares = {r["target"]: _share(Path(r["path"])) for r in results}
        rows.append([name, f"{size[0]}x{size[1]}", shares["fp32"], shares["int8"]])
        print(rows[-1], flush=True)
    print(format_table(["model", "size", "fp32 nodes on XNNPACK", "int8 nodes on XNNPACK"], rows, markdown=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
