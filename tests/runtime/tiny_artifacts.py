"""Build a tiny tf_keras segmentation model and its .tflite (fp32, int8, dynamic-batch) / .onnx exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZE = (64, 64)
NUM_CLASSES = 11  # CamVid's classes, so the bundled sample masks score against it


def _frames(samples: Path, n: int = 6) -> list[np.ndarray]:
    from edgeseg.core.dataset import FolderDataset
    from edgeseg.core.presets import CAMVID
    from edgeseg.core.preprocess import preprocess

    ds = FolderDataset(samples / "images", samples / "masks", CAMVID)
    return [preprocess(ds.read_image(i), CAMVID, SIZE)[None] for i in range(min(n, len(ds)))]


def build(out: Path, samples: Path) -> dict[str, Path]:
    """Write the artifacts under ``out`` once; return their paths by name."""
    paths = {k: out / v for k, v in {"h5": "tiny.h5", "fp32": "tiny_fp32.tflite", "int8": "tiny_int8.tflite",
                                     "dynamic": "tiny_dynamic.tflite", "onnx": "tiny.onnx"}.items()}
    if all(p.exists() for p in paths.values()):
        return paths
    out.mkdir(parents=True, exist_ok=True)
    from edgeseg._keras import keras, tf
    from edgeseg.core.manifest import Manifest
    from edgeseg.core.presets import CAMVID

    keras.utils.set_random_seed(0)
    inp = keras.Input((*SIZE, 3), name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same")(inp)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.Conv2DTranspose(NUM_CLASSES, 3, strides=2, padding="same", name="logits")(x)
    model = keras.Model(inp, x)
    model.save(paths["h5"])
    frames = _frames(samples)
    fn = tf.function(lambda t: model(t, training=False)).get_concrete_function(
        tf.TensorSpec((1, *SIZE, 3), tf.float32))
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn], model)
    paths["fp32"].write_bytes(conv.convert())
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn], model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([f] for f in frames)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    paths["int8"].write_bytes(conv.convert())
    paths["dynamic"].write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    import tf2onnx

    tf2onnx.convert.from_keras(model, input_signature=(tf.TensorSpec((1, *SIZE, 3), tf.float32, name="image"),),
                               opset=17, output_path=str(paths["onnx"]))
    spec = CAMVID.with_(input_size=SIZE)
    for key in ("fp32", "int8", "onnx"):
        Manifest(spec, artifact={"format": paths[key].suffix[1:], "precision": "int8" if key == "int8" else "fp32"}
                 ).save(str(paths[key]) + ".json")
    return paths
