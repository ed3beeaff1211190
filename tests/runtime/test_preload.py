"""runtime.preload imports a format's engine up front (convert does it before the export loop a Ctrl-C may cut)."""

from __future__ import annotations

import subprocess
import sys


def test_preload_imports_the_default_engine_and_nothing_else() -> None:
    code = ("import sys; from edgeseg import runtime; before = {m for m in ('onnxruntime', 'ai_edge_litert.interpreter') "
            "if m in sys.modules}; runtime.preload('onnx'); runtime.preload('tflite'); runtime.preload('h5x'); "
            "print(sorted(before), 'onnxruntime' in sys.modules, 'ai_edge_litert.interpreter' in sys.modules, "
            "'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["[]", "True", "True", "False"]
