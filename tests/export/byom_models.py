"""Bring-your-own-model fixtures: Keras 3 / keras-hub segmenters with random weights, saved every way, and tiny data."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

SIZE = 64  # every model here takes 64x64 RGB
CLASSES = 3


def pets_unet():
    """A keras.io "Image segmentation with a U-Net-like architecture" (Oxford pets) model, slimmed: Rescaling
    first (the model takes raw pixels), separable convs, residual adds, transposed convs, softmax head."""
    from edgeseg._keras3 import keras

    L = keras.layers
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(SIZE, SIZE, 3))
    x = L.Rescaling(1.0 / 255)(inputs)
    x = L.Conv2D(8, 3, strides=2, padding="same")(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    previous = x
    for filters in (16, 32):
        x = L.Activation("relu")(x)
        x = L.SeparableConv2D(filters, 3, padding="same")(x)
        x = L.BatchNormalization()(x)
        x = L.MaxPooling2D(3, strides=2, padding="same")(x)
        residual = L.Conv2D(filters, 1, strides=2, padding="same")(previous)
        x = L.add([x, residual])
        previous = x
    for filters in (32, 16, 8):
        x = L.Activation("relu")(x)
        x = L.Conv2DTranspose(filters, 3, padding="same")(x)
        x = L.BatchNormalization()(x)
        x = L.UpSampling2D(2)(x)
        residual = L.Conv2D(filters, 1, padding="same")(L.UpSampling2D(2)(previous))
        x = L.add([x, residual])
        previous = x
    outputs = L.Conv2D(CLASSES, 3, activation="softmax", padding="same")(x)
    return keras.Model(inputs, outputs, name="pets_unet")


def hub_deeplab():
    """keras-hub DeepLabV3(+) on a small basic-block ResNet (built from its config, no preset download)."""
    from edgeseg._keras3 import keras, keras_hub

    hub = keras_hub()
    keras.utils.set_random_seed(1)
    encoder = hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 16, 16],
        stackwise_num_blocks=[1, 1, 1], stackwise_num_strides=[1, 2, 2], block_type="basic_block",
        image_shape=(SIZE, SIZE, 3))
    backbone = hub.models.DeepLabV3Backbone(
        image_encoder=encoder, spatial_pyramid_pooling_key="P4", upsampling_size=4, dilation_rates=[2, 4],
        low_level_feature_key="P2", projection_filters=8, image_shape=(SIZE, SIZE, 3))
    return hub.models.DeepLabV3ImageSegmenter(backbone=backbone, num_classes=CLASSES)


def hub_segformer():
    """keras-hub SegFormer on a two-stage MiT (built from its config, no preset download)."""
    from edgeseg._keras3 import keras, keras_hub

    hub = keras_hub()
    keras.utils.set_random_seed(2)
    encoder = hub.models.MiTBackbone(
        layerwise_depths=[1, 1], num_layers=2, layerwise_num_heads=[1, 2], layerwise_sr_ratios=[4, 2],
        max_drop_path_rate=0.0, layerwise_patch_sizes=[7, 3], layerwise_strides=[4, 2],
        image_shape=(SIZE, SIZE, 3), hidden_dims=[8, 16])
    backbone = hub.models.SegFormerBackbone(image_encoder=encoder, projection_filters=16)
    return hub.models.SegFormerImageSegmenter(backbone=backbone, num_classes=CLASSES)


BUILDERS = {"unet": pets_unet, "deeplab": hub_deeplab, "segformer": hub_segformer}


def save_all(name: str, folder: Path) -> dict[str, Path]:
    """Build ``name`` and save it as ``.keras``, a SavedModel folder and (the U-Net) a Keras-3 ``.h5``."""
    from edgeseg._keras3 import keras

    model = BUILDERS[name]()
    out = {"keras": folder / f"{name}.keras", "savedmodel": folder / f"{name}_sm"}
    model.save(out["keras"])
    if name == "unet":
        model.export(str(out["savedmodel"]), format="tf_saved_model", verbose=False)
        out["h5"] = folder / f"{name}_k3.h5"
        model.save(out["h5"])
        return out
    # keras-hub segmenters run some BatchNorms in training mode unless told otherwise, and model.export() does
    # not tell them: export an inference endpoint explicitly (model.export's folder is kept as "export_default")
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", lambda x: model(x, training=False),
                         input_signature=[keras.InputSpec(shape=(None, SIZE, SIZE, 3), dtype="float32")])
    archive.write_out(str(out["savedmodel"]), verbose=False)
    if name == "deeplab":
        out["export_default"] = folder / f"{name}_export_default"
        model.export(str(out["export_default"]), format="tf_saved_model", verbose=False)
    return out


def tiny_dataset(samples: Path, folder: Path, count: int = 4) -> Path:
    """``folder/images`` + ``folder/masks``: the first sample frames at 64x64 with 3-class masks (by brightness)."""
    from PIL import Image

    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for src in sorted((samples / "images").iterdir())[:count]:
        with Image.open(src) as im:
            rgb = im.convert("RGB").resize((SIZE, SIZE))
        rgb.save(folder / "images" / f"{src.stem}.png")
        grey = np.asarray(rgb.convert("L"), np.float32)
        mask = np.digitize(grey, np.quantile(grey, [1 / 3, 2 / 3])).astype(np.uint8)
        Image.fromarray(mask).save(folder / "masks" / f"{src.stem}.png")
    return folder


def crafted_keras(template: Path, target: Path, mutate) -> Path:
    """A copy of a ``.keras`` file whose ``config.json`` went through ``mutate(config) -> config``."""
    import json

    with zipfile.ZipFile(template) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "config.json":
                data = json.dumps(mutate(json.loads(data))).encode()
            dst.writestr(info, data)
    return target
