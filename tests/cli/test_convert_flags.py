"""`convert`'s target flags, `--all`, `bench --targets` and the guard's targets all come from the exporter registry."""

from __future__ import annotations

import pytest

from edgeseg.cli.main import build_parser
from edgeseg.errors import UsageError
from edgeseg.export import registry
from edgeseg.export.base import Exporter

# What users type and read today (docs/convert.md): the flags, their help and their order must not change.
SHIPPED_HELP = {
    "--fp32": "<stem>_fp32.tflite", "--fp16": "<stem>_fp16.tflite (fp16 weights)",
    "--dynamic": "<stem>_dynamic_int8.tflite (int8 weights, float I/O)",
    "--int8": "<stem>_int8.tflite (full integer, calibrated)",
    "--int16x8": "<stem>_int16x8.tflite (int16 activations, calibrated)", "--onnx": "<stem>.onnx (opset 17)",
    "--onnx-fp16": "<stem>_fp16.onnx (float32 I/O kept)", "--onnx-int8": "<stem>_int8.onnx (static QDQ, calibrated)",
}


class _NewFormat(Exporter):
    """A format added the documented way: a class and one registry entry, nothing else."""

    def export(self, graph, out_path, ctx):  # pragma: no cover - never converted here
        raise NotImplementedError


@pytest.fixture
def new_format(monkeypatch):
    fmt = _NewFormat(name="tvm-int8", format="tvm", precision="int8", suffix="_int8.tvm", summary="TVM",
                     needs_calibration=True, guard_strategy="nowhere:candidates")
    monkeypatch.setitem(registry.EXPORTERS, fmt.name, fmt)
    return fmt


def _convert_parser():
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.choices and "convert" in a.choices]
    return sub.choices["convert"]


def _target_actions(p) -> dict[str, str]:
    (group,) = [g for g in p._action_groups if g.title == "targets"]
    return {a.option_strings[0]: a.help for a in group._group_actions if a.option_strings[0] != "--all"}


def test_flags_and_help_are_the_shipped_ones():
    actions = _target_actions(_convert_parser())
    assert list(actions) == [e.flag for e in registry.EXPORTERS.values()]  # one per target, registry order
    assert list(actions)[:len(SHIPPED_HELP)] == list(SHIPPED_HELP)  # the shipped ones first, as they were
    assert {f: actions[f] for f in SHIPPED_HELP} == SHIPPED_HELP


def test_a_registered_exporter_gets_a_flag_all_bench_and_guard(new_format):
    from edgeseg.cli.convert import _targets
    from edgeseg.export.guard import check_guard

    p = _convert_parser()
    assert _target_actions(p)["--tvm-int8"] == "<stem>_int8.tvm (TVM, calibrated)"
    assert _targets(p.parse_args(["m.h5", "--tvm-int8", "--fp32"])) == ["fp32", "tvm-int8"]
    everything = _targets(p.parse_args(["m.h5", "--all"]))
    assert everything == registry.list_targets() and everything[-1] == "tvm-int8"
    assert everything[:len(SHIPPED_HELP)] == [f[2:] for f in SHIPPED_HELP]
    (sub,) = [a for a in build_parser()._actions if a.choices and "bench" in a.choices]
    (targets,) = [a for a in sub.choices["bench"]._actions if "--targets" in a.option_strings]
    assert targets.help.endswith(f"{', '.join(registry.list_targets())} (default: all)") and "tvm-int8" in targets.help
    groups = [g.title for g in p._action_groups]
    assert f"accuracy guard ({', '.join(registry.guarded_targets())})" in groups
    assert registry.guarded_targets()[-1] == "tvm-int8"
    check_guard(["tvm-int8"], True, 1.0)  # guardable: no error
    with pytest.raises(UsageError, match=r"^--max-miou-drop applies to --int8, --onnx-int8.* and --tvm-int8; none was"):
        check_guard(["fp32"], True, 1.0)


def test_guard_refusal_names_the_guardable_flags(monkeypatch):
    from edgeseg.export.guard import check_guard

    assert registry.guarded_targets()[:2] == ["int8", "onnx-int8"]
    for name in set(registry.EXPORTERS) - {f[2:] for f in SHIPPED_HELP}:  # the message of the shipped registry
        monkeypatch.delitem(registry.EXPORTERS, name)
    assert registry.guarded_targets() == ["int8", "onnx-int8"]
    with pytest.raises(UsageError) as exc:
        check_guard(["fp32", "onnx"], True, 1.0)
    assert str(exc.value) == "--max-miou-drop applies to --int8 and --onnx-int8; neither was asked for"


def test_unknown_exporter_attribute_is_refused():
    with pytest.raises(TypeError, match="no exporter attribute 'flag'"):
        _NewFormat(name="x", flag="--y")
