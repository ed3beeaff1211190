"""Registry, option validation, FLOP counting and the ``edgeseg models`` command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from edgeseg.errors import SpecError
from edgeseg.models import build, count_flops, get_info, input_multiple, list_models, round_up_size

# The architectures shipped so far, in registry order; a new one is appended by its registry line alone.
ALL = ["unet", "enet", "linknet", "deeplabv3plus", "pspnet", "fcn8s", "segnet", "rtseg"]


def test_registry_lists_every_architecture_with_its_facts() -> None:
    assert list_models()[:len(ALL)] == ALL and len(set(list_models())) == len(list_models())
    for name in list_models():
        info = get_info(name)
        assert info.name == name and info.paper and info.deviations and info.default_options
        assert info.output_stride == input_multiple(name)
        json.dumps(info.to_dict())
    assert [get_info(n).output_stride for n in ALL] == [16, 8, 32, 16, 48, 32, 32, 32]


@pytest.mark.parametrize("name", list_models())
def test_every_architecture_has_its_tester(name: str) -> None:
    """A registered architecture comes with tests/models/test_model_<name>.py subclassing ModelZooTester."""
    import importlib
    import inspect

    from tests.models.modelzoo_base import ModelZooTester

    module = importlib.import_module(f"tests.models.test_model_{name}")
    testers = [c for _, c in inspect.getmembers(module, inspect.isclass)
               if issubclass(c, ModelZooTester) and c is not ModelZooTester]
    assert [t.name for t in testers] == [name], f"{module.__name__}: one ModelZooTester subclass for {name}"


def test_importing_the_zoo_loads_no_tensorflow() -> None:
    code = "import sys, edgeseg.models; assert 'tensorflow' not in sys.modules, 'tensorflow loaded'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"name": "resnet"}, "unknown model 'resnet'"),
    ({"num_classes": 0}, "number of classes must be a positive integer"),
    ({"input_shape": (64,)}, "input shape must be"),
    ({"input_shape": (60, 64)}, r"input 60x64 is not a multiple of 8 in both sides \(e.g. use 64x64\)"),
    ({"width": "wide"}, "option width must be a non-negative number"),
    ({"activation": "gelu"}, "option activation must be one of 'prelu', 'relu'"),
    ({"width": 100.0}, r"option width must be in \[0.125, 4\]"),
    ({"batch_size": 0}, "batch size must be a positive integer"),
])
def test_build_rejects_bad_requests_with_one_line_errors(kwargs: dict, message: str) -> None:
    args = {"name": "enet", "num_classes": 3, "input_shape": (64, 64), **kwargs}
    with pytest.raises(SpecError, match=message) as err:
        build(args.pop("name"), args.pop("num_classes"), args.pop("input_shape"), **args)
    assert "\n" not in str(err.value)


def test_option_types_are_checked() -> None:
    with pytest.raises(SpecError, match="option depth must be a positive integer"):
        build("unet", 2, (64, 64), depth=True)
    with pytest.raises(SpecError, match="option batch_norm must be true or false"):
        build("unet", 2, (64, 64), batch_norm=1)
    with pytest.raises(SpecError, match="option blocks must be a list of positive integers"):
        build("linknet", 2, (64, 64), blocks=(2, 0, 2, 2))
    assert input_multiple("unet", depth=2) == 4 and round_up_size((360, 480), 32) == (384, 480)


def test_fixed_batch_size() -> None:
    model = build("unet", 2, (32, 32), batch_size=1, depth=2, base_width=4)
    assert model.input_shape == (1, 32, 32, 3) and model.output_shape == (1, 32, 32, 2)


def test_count_flops_matches_a_hand_count() -> None:
    from edgeseg._keras import keras

    L = keras.layers
    x = inp = keras.Input((8, 8, 3))
    x = L.Conv2D(8, 3, padding="same")(x)  # 64 px * 9 * 3 * 8 = 13824 MACs
    x = L.DepthwiseConv2D(3, padding="same", dilation_rate=2)(x)  # 64 * 9 * 8 = 4608
    x = L.SeparableConv2D(4, 3, padding="same")(x)  # 64 * (9 * 8 + 8 * 4) = 6656
    x = L.Conv2DTranspose(2, 2, strides=2)(x)  # 64 input px * 4 * 4 * 2 = 2048
    x = L.MaxPooling2D(2)(x)  # no MACs
    x = L.Dense(5)(x)  # 64 px * 2 * 5 = 640
    assert count_flops(keras.Model(inp, x)) == 2 * (13824 + 4608 + 6656 + 2048 + 640)


def test_models_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    from edgeseg.cli.main import main

    assert main(["models", "unet", "--input-size", "62x63", "--num-classes", "5", "-o", "depth=2",
                 "--option", "base_width=4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (row,) = out["models"]
    model = build("unet", 5, (64, 64), depth=2, base_width=4)
    assert row["name"] == "unet" and row["input_size"] == [64, 64] and row["output_stride"] == 4
    assert row["params"] == model.count_params() and row["options"]["base_width"] == 4
    assert row["gflops"] == pytest.approx(count_flops(model) / 1e9)


def test_models_command_table_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    from edgeseg.cli.main import main

    assert main(["models", "unet", "--input-size", "64x64", "-o", "depth=2", "-o", "base_width=4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["model", "params", "(M)"] and lines[2].startswith("unet ")
    assert main(["models", "nope"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown model 'nope'")
    assert main(["models", "-o", "width=0.5"]) == 2
    assert "one architecture" in capsys.readouterr().err
    assert main(["models", "unet", "-o", "colour=red"]) == 2
    assert "unknown option 'colour'" in capsys.readouterr().err
