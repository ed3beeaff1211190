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


def test_findings_grouped_per_rule(capsys):
    from edgeseg._keras import keras
    from edgeseg.export.lint import describe_group, group_findings, lint_layers

    inp = keras.Input((16, 16, 3))
    x = inp
    for i in range(5):
        x = keras.layers.PReLU(shared_axes=[1, 2], name=f"p{i}")(keras.layers.Conv2D(4, 3, padding="same")(x))
    groups = group_findings(lint_layers(keras.Model(inp, x)))
    (g,) = [g for g in groups if g["issue"] == "PReLU in int8"]
    assert g["count"] == 5 and g["layers"] == [f"p{i}" for i in range(5)]
    line = describe_group(g)
    assert line.startswith("PReLU in int8 (5 layers: p0, p1, p2, ...): XNNPACK") and "relu" in line.lower()


def test_prelu_int8_gap_is_real(tmp_path):
    """Measured, not quoted: XNNPACK delegates an int8 PReLU model's PRELU to nobody, the ReLU twin fully."""
    import numpy as np

    from edgeseg import runtime
    from edgeseg._keras import keras, tf
    from edgeseg.export.tflite import converter_for

    def delegated(act: str) -> dict:
        keras.utils.set_random_seed(0)
        inp = keras.Input((32, 32, 3), batch_size=1)
        x = keras.layers.Conv2D(8, 3, padding="same")(inp)
        x = keras.layers.PReLU(shared_axes=[1, 2])(x) if act == "prelu" else keras.layers.ReLU()(x)
        model = keras.Model(inp, keras.layers.Conv2D(4, 1)(x))
        conv = converter_for(model)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        rng = np.random.default_rng(0)
        conv.representative_dataset = lambda: ([rng.normal(size=(1, 32, 32, 3)).astype(np.float32)] for _ in range(4))
        path = tmp_path / f"{act}.tflite"
        path.write_bytes(conv.convert())
        with runtime.load(path) as be:
            return be.delegated_ops()

    prelu, relu = delegated("prelu"), delegated("relu")
    print("prelu", prelu, "relu", relu)
    assert prelu["fallback"].get("PRELU") == 1
    assert set(relu["fallback"]) <= {"QUANTIZE", "DEQUANTIZE"}
