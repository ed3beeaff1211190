"""docs/api.md's code blocks run as written (on the tiny model instead of the shipped ENet), and the API has
typed signatures: ``convert_model(h5, "fp32")`` is one target, ``bench(..., data=DatasetRef(...))``."""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "api.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_api_doc_runs_as_written(tiny, tmp_path, monkeypatch) -> None:
    pytest.importorskip("tensorflow", reason="the page converts a Keras model: TensorFlow is not installed")
    blocks = _blocks()
    assert len(blocks) == 2
    monkeypatch.chdir(REPO)  # the doc's relative paths (samples/camvid) are from the repository root
    env: dict = {}
    for code in blocks:
        code = code.replace('"models/camvid-enet/camvid-enet.h5"', repr(str(tiny["h5"])))
        code = code.replace('"out/api"', repr(str(tmp_path / "api")))
        exec(compile(code, str(DOC), "exec"), env)  # noqa: S102
    assert Path(env["tflite"]).name == "tiny_fp32.tflite"
    assert (tmp_path / "api" / "tiny_fp32.tflite.json").is_file()
    assert {d["target"] for d in env["done"]} == {"int8", "onnx"}


def test_signatures_are_typed() -> None:
    import edgeseg.bench
    import edgeseg.export

    conv = inspect.signature(edgeseg.export.convert_model)
    assert "str" in str(conv.parameters["targets"].annotation) and "force" in conv.parameters
    assert all(p.annotation is not inspect.Parameter.empty for p in conv.parameters.values())
    b = inspect.signature(edgeseg.bench.bench)
    assert "DatasetRef" in str(b.parameters["data"].annotation)
    assert all(p.annotation is not inspect.Parameter.empty for n, p in b.parameters.items() if n != "options")


def test_dataset_ref_forms_agree(samples_dir) -> None:
    from edgeseg.bench import BenchJob, DatasetRef

    want = DatasetRef(folder=str(samples_dir))
    assert BenchJob(artifact="a.tflite", dataset=samples_dir).dataset == want
    assert BenchJob(artifact="a.tflite", dataset=str(samples_dir)).dataset == want
    assert BenchJob(artifact="a.tflite", dataset={"ref": str(samples_dir), "split": None}).dataset == want
    from dataclasses import asdict

    assert BenchJob(**asdict(BenchJob(artifact=Path("a.tflite"), dataset=want))).dataset == want
    assert os.fspath(BenchJob(artifact=Path("a.tflite")).artifact) == "a.tflite"
