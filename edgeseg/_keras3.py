"""The one place that imports Keras 3 (the standalone ``keras`` package) and, optionally, keras-hub.

TensorFlow 2.21's ``tf.keras`` is tf_keras here (``edgeseg._keras`` sets ``TF_USE_LEGACY_KERAS=1``
for training and tfmot), but the standalone ``keras`` package is Keras 3 whatever that variable says:
``import keras`` after ``edgeseg._keras`` gives Keras 3 on the TensorFlow backend, and both stay
usable in one process (``tests/export/test_byom.py`` checks it). Models users bring (``.keras``,
Keras-3 ``.h5``, keras-hub segmenters) are loaded through this module only.
"""

from __future__ import annotations

import os
from typing import Any

from edgeseg._keras import tf  # TensorFlow first, with edgeseg's environment (quiet logs, legacy tf.keras)
from edgeseg.core.native_log import native_stderr
from edgeseg.errors import ModelError

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

with native_stderr("keras import"):
    import keras  # noqa: E402

if keras.config.backend() != "tensorflow":  # pragma: no cover - KERAS_BACKEND set by the user
    raise ModelError(f"Keras 3 runs on the {keras.config.backend()!r} backend here; edgeseg converts through "
                     "TensorFlow: unset KERAS_BACKEND or set it to tensorflow")

__all__ = ["tf", "keras", "keras_hub", "HUB_INSTALL"]

#: What to install for models saved from keras-hub.
HUB_INSTALL = "pip install 'edgeseg[hub]' (keras-hub)"


def keras_hub(why: str = "this model") -> Any:
    """The ``keras_hub`` module (registers its classes with Keras 3); one-line error when missing."""
    try:
        with native_stderr("keras_hub import"):
            import keras_hub as hub
    except ImportError:
        raise ModelError(f"{why} was saved from keras-hub, which is not installed: {HUB_INSTALL}") from None
    return hub
