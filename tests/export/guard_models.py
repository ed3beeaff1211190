"""A quantisation-hostile tiny model and a labelled 64x64 dataset for the guard tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZE = (64, 64)


def build_hostile(keras3: bool = False):
    """conv ``wide`` (3->8): seven small feature channels plus one channel spanning +-thousands, then
    an ordinary int8-friendly body (``mix`` reads only the small channels, two 3x3 convs, ``fine`` logits).

    Plain int8 gives ``wide``'s output one per-tensor scale sized by the huge channel, so the small
    channels quantise to zero and the logits collapse; keeping that tensor in float (or int16
    activations) restores them.
    """
    if keras3:  # the same model in Keras 3 (the guard takes any model source)
        from edgeseg._keras3 import keras
    else:
        from edgeseg._keras import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((*SIZE, 3), name="image_in")
    x = keras.layers.AveragePooling2D(4, name="pool")(inp)  # smooth, blob-like label maps
    x = keras.layers.Conv2D(8, 3, padding="same", name="wide")(x)
    x = keras.layers.Conv2D(8, 1, activation="relu", name="mix")(x)
    x = keras.layers.Conv2D(16, 1, activation="relu", name="body")(x)
    x = keras.layers.Conv2D(11, 1, name="fine")(x)
    out = keras.layers.UpSampling2D(4, interpolation="bilinear", name="up")(x)
    model = keras.Model(inp, out, name="hostile")
    w, b = model.get_layer("wide").get_weights()
    w[..., :7] *= 0.05
    w[..., 7] *= 300.0
    model.get_layer("wide").set_weights([w, b])
    mw, mb = model.get_layer("mix").get_weights()
    mw[:, :, 7, :] = 0.0  # the wide channel is read by nobody downstream
    model.get_layer("mix").set_weights([mw * 4.0, mb + 0.05])
    return model


def write_dataset(model, samples_dir: Path, out: Path, count: int) -> Path:
    """``images/`` (the sample frames at 64x64) + ``masks/`` (the Keras model's own argmax): Keras scores
    100% mIoU on it, so any drop is the quantisation's."""
    from PIL import Image

    from edgeseg.core.presets import CAMVID
    from edgeseg.core.preprocess import preprocess

    (out / "images").mkdir(parents=True)
    (out / "masks").mkdir()
    for src in sorted((samples_dir / "images").glob("*.jpg"))[:count]:
        image = Image.open(src).convert("RGB").resize(SIZE[::-1], Image.BILINEAR)
        image.save(out / "images" / f"{src.stem}.png")
        x = preprocess(np.asarray(image), CAMVID, SIZE)[None]
        labels = np.argmax(np.asarray(model(x))[0], axis=-1).astype(np.uint8)
        Image.fromarray(labels, mode="L").save(out / "masks" / f"{src.stem}.png")
    return out
