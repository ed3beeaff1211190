"""Built-in dataset presets (CamVid 11-class SegNet version, and a generic one)."""

from __future__ import annotations

from edgeseg.core.spec import Spec
from edgeseg.errors import SpecError

# ImageNet statistics on [0, 1] pixels; the usual choice for models trained from scratch too.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

CAMVID = Spec(
    name="camvid",
    class_names=(
        "Sky", "Building", "Pole", "Road", "Pavement", "Tree",
        "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist",
    ),
    void_index=11,
    palette=(
        (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222),
        (128, 128, 0), (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0),
        (0, 128, 192), (0, 0, 0),
    ),
    input_size=(360, 480),
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    channel_order="RGB",
    # SegNet's median-frequency weights (its training configuration).
    class_weights=(
        0.2595, 0.1826, 4.5640, 0.1417, 0.9051, 0.3826, 9.6446, 1.8418, 0.6823, 6.2478, 7.3614,
    ),
)

PRESETS: dict[str, Spec] = {"camvid": CAMVID}


def get_preset(name: str) -> Spec:
    """Return a preset spec by name."""
    try:
        return PRESETS[name.lower()]
    except KeyError:
        raise SpecError(f"unknown preset {name!r} (known: {', '.join(sorted(PRESETS))})") from None
