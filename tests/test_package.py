"""`tests` is this repository's package, imported without path hacks, even where another `tests` shadows it.

tf2onnx installs a top-level `tests` folder in site-packages; a wheel could as well ship a regular `tests`
package. pyproject's `pythonpath = ["."]` puts the repository root first on sys.path before any conftest
loads, so `from tests.runtime... import ...` always means the files beside this one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tests

REPO = Path(__file__).resolve().parents[1]


def test_tests_is_this_repositorys_package() -> None:
    assert Path(tests.__file__).resolve() == REPO / "tests" / "__init__.py"
    from tests.fixtures import tiny

    assert Path(tiny.__file__).resolve() == REPO / "tests" / "fixtures" / "tiny.py"
    assert not [p for p in sys.path if Path(p or ".").resolve().is_relative_to(REPO / "tests")], \
        "a folder under tests/ is on sys.path (a path hack or a package without __init__.py)"


def test_no_path_hacks_in_tests() -> None:
    hacks = [str(p.relative_to(REPO)) for p in (REPO / "tests").rglob("*.py")
             if "sys.path.insert" in p.read_text() and p.name != "test_package.py"]
    assert not hacks


@pytest.mark.parametrize("mode", ["prepend", "append", "importlib"])
def test_a_shadowing_tests_package_loses(tmp_path: Path, mode: str) -> None:
    """pytest started from another folder, with a regular `tests` package on PYTHONPATH (stronger than
    tf2onnx's namespace folder, which any regular package beats) still imports this repository's `tests`.

    Mutation: without `pythonpath = ["."]` (`-o pythonpath=`), `--import-mode=append` puts the root last
    and imports the shadowing package; without tests/__init__.py every mode does.
    """
    fake = tmp_path / "elsewhere" / "tests"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('the shadowing tests package was imported')\n")
    env = {**os.environ, "PYTHONPATH": str(fake.parent)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--import-mode={mode}",
                           f"{REPO / 'tests' / 'test_package.py'}::test_tests_is_this_repositorys_package"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-2000:]
