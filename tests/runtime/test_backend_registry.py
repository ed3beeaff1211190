"""Every registered runtime backend has its tester: a tests/runtime/test_backend_<name>.py subclassing BackendTester."""

from __future__ import annotations

import importlib
import inspect

import pytest

from edgeseg import runtime
from tests.runtime.backend_base import BackendTester


@pytest.mark.parametrize("name", list(runtime.BACKENDS))
def test_every_backend_has_a_tester(name):
    module = f"tests.runtime.test_backend_{name.replace('-', '_')}"
    if name == "keras":
        pytest.importorskip("tensorflow")
    testers = [c for _, c in inspect.getmembers(importlib.import_module(module), inspect.isclass)
               if issubclass(c, BackendTester) and c is not BackendTester]
    assert [t.backend for t in testers] == [name], f"{module}: one BackendTester subclass for {name}"
    assert testers[0].artifacts, f"{module}: name the tiny artifacts {name} runs"


def test_aliases_and_defaults_name_registered_backends():
    assert set(runtime.ALIASES.values()) <= set(runtime.BACKENDS)
    assert set(runtime.DEFAULT_BACKEND.values()) <= set(runtime.BACKENDS)
    for fmt, name in runtime.DEFAULT_BACKEND.items():
        assert fmt in runtime.backend_class(name).formats
