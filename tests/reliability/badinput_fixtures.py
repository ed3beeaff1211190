"""Build the bad-input corpus once: tiny .h5 models (plain, Lambda, custom layer), a plain HDF5,
real tiny .tflite/.onnx exports, and their empty/truncated/random-byte/bit-flipped variants."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np

SIZE = (32, 32)
NUM_CLASSES = 11  # CamVid, so the bundled sample frames calibrate and score against it


def _tiny_model(keras, *, dynamic: bool = False):
    """Stride-2 encoder/decoder; the dynamic-size one has a U-Net-style skip, so it only runs at even sizes."""
    shape = (None, None, 3) if dynamic else (*SIZE, 3)
    inp = keras.Input(shape, name="image")
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(inp)
    x = keras.layers.Conv2DTranspose(4 if dynamic else NUM_CLASSES, 3, strides=2, padding="same")(x)
    if dynamic:
        x = keras.layers.Concatenate()([x, inp])
        x = keras.layers.Conv2D(NUM_CLASSES, 1)(x)
    return keras.Model(inp, x)


def _models(out: Path) -> None:
    from edgeseg._keras import keras, tf

    keras.utils.set_random_seed(0)
    model = _tiny_model(keras)
    model.save(out / "tiny.h5")
    _tiny_model(keras, dynamic=True).save(out / "dynamic.h5")

    inp = keras.Input((*SIZE, 3))
    y = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inp)
    keras.Model(inp, keras.layers.Conv2D(NUM_CLASSES, 1)(y)).save(out / "lambda.h5")

    class Scale(keras.layers.Layer):  # a custom class tf_keras cannot rebuild without custom_objects
        def call(self, t):
            return t * 2.0

    inp = keras.Input((*SIZE, 3))
    keras.Model(inp, keras.layers.Conv2D(NUM_CLASSES, 1)(Scale(name="scale")(inp))).save(out / "custom.h5")

    fn = tf.function(lambda t: model(t, training=False)).get_concrete_function(
        tf.TensorSpec((1, *SIZE, 3), tf.float32))
    (out / "tiny.tflite").write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([fn], model).convert())
    import tf2onnx

    tf2onnx.convert.from_keras(model, input_signature=(tf.TensorSpec((1, *SIZE, 3), tf.float32, name="image"),),
                               opset=17, output_path=str(out / "tiny.onnx"))


def _variants(out: Path) -> None:
    import h5py

    with h5py.File(out / "plain.h5", "w") as fh:
        fh["data"] = np.arange(10)
    rng = random.Random(0)
    for ext, src in (("h5", "tiny.h5"), ("tflite", "tiny.tflite"), ("onnx", "tiny.onnx")):
        data = (out / src).read_bytes()
        (out / f"empty.{ext}").write_bytes(b"")
        (out / f"truncated.{ext}").write_bytes(data[: len(data) // 3])
        (out / f"random.{ext}").write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
        flipped = bytearray(data)
        # Flip bytes in the middle (tensor/buffer tables and weights), keep the header intact.
        for i in range(len(data) // 4, len(data) // 4 + 64):
            flipped[i] ^= 0xFF
        (out / f"flipped.{ext}").write_bytes(bytes(flipped))
    (out / "tflite_as.h5").write_bytes((out / "tiny.tflite").read_bytes())
    (out / "h5_as.tflite").write_bytes((out / "tiny.h5").read_bytes())


def _image(path: Path, mode: str, size=(48, 32), value: int = 3, dtype=np.uint8) -> None:
    from PIL import Image

    w, h = size
    if mode == "RGB":
        arr = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    elif mode == "RGBA":
        arr = np.random.default_rng(0).integers(0, 255, (h, w, 4), dtype=np.uint8)
    else:
        arr = np.full((h, w), value, dtype=dtype)
    Image.fromarray(arr).save(path)


def _dataset(root: Path, *, image_mode: str = "RGB", mask_value: int = 3, mask_dtype=np.uint8,
             extra: dict[str, bytes] | None = None, masks: bool = True) -> Path:
    (root / "images").mkdir(parents=True)
    if masks:
        (root / "masks").mkdir()
    for stem in ("a", "b"):
        _image(root / "images" / f"{stem}.png", image_mode)
        if masks:
            _image(root / "masks" / f"{stem}.png", "L", value=mask_value, dtype=mask_dtype)
    for rel, data in (extra or {}).items():
        (root / rel).write_bytes(data)
    return root


def _datasets(out: Path) -> None:
    d = out / "data"
    (d / "empty").mkdir(parents=True)
    _dataset(d / "good")
    _dataset(d / "unpaired")
    (d / "unpaired" / "masks" / "b.png").unlink()
    _dataset(d / "unreadable", extra={"images/c.png": b"not really a png", "masks/c.png": b"\x89PNG\r\n"})
    _dataset(d / "nonimage", extra={"images/notes.txt": b"hello"})
    _dataset(d / "grayscale", image_mode="L")
    _dataset(d / "rgba", image_mode="RGBA")
    _dataset(d / "mask16", mask_value=300, mask_dtype=np.uint16)
    _dataset(d / "badlabel", mask_value=40)
    (d / "noimages" / "images").mkdir(parents=True)  # images/ exists but holds nothing
    (d / "noimages" / "masks").mkdir()


def build(out: Path) -> Path:
    """Write the corpus under ``out`` (once; a marker file records completion); return ``out``."""
    marker = out / ".complete"
    if marker.exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    _models(out)
    _variants(out)
    _datasets(out)
    (out / "a_file").write_text("a regular file, used as a would-be parent directory\n")
    marker.write_text(str(os.getpid()))
    return out
