"""Deployability lint: layer findings name the layer and a fix; graph checks list GPU gaps."""

from __future__ import annotations


def test_layer_findings():
    from edgeseg._keras import keras
    from edgeseg.export.lint import lint_layers

    inp = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="c")(inp)
    x = keras.layers.PReLU(shared_axes=[1, 2], name="act_prelu")(x)
    cat = keras.layers.Concatenate(name="wide_cat")([x, x, x, x, x])
    up = keras.layers.UpSampling2D(interpolation="nearest", name="near_up")(
        keras.layers.MaxPooling2D()(cat))
    model = keras.Model(inp, keras.layers.Conv2D(3, 1)(up))
    found = {(f.layer, f.severity) for f in lint_layers(model)}
    assert ("act_prelu", "warning") in found
    assert ("wide_cat", "warning") in found
    assert ("near_up", "warning") in found
    assert all(f.fix for f in lint_layers(model))


def test_graph_findings_gpu_and_custom():
    from edgeseg.export.lint import lint_graph

    found = lint_graph(["CONV_2D", "ARG_MAX", "CAST", "CUSTOM:MaxPoolingWithArgmax2D"], {"PRELU": 2}, "int8")
    issues = " | ".join(f.issue for f in found)
    assert "not a TFLite builtin" in issues and "GPU delegate" in issues and "XNNPACK leaves 2 PRELU" in issues
    gpu = [f for f in found if "GPU" in f.issue][0]
    assert "ARG_MAX" in gpu.layer and "CONV_2D" not in gpu.layer


def test_lint_model_converts_and_reports_xnnpack(tiny_h5, capsys):
    from edgeseg.cli.main import main

    assert main(["lint", str(tiny_h5), "--input-size", "64x64"]) == 0
    out = capsys.readouterr().out
    assert "CONV_2D x3" in out and "XNNPACK (fp32)" in out
