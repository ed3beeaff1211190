"""The one place that imports TensorFlow and tf_keras (Keras 2 API, as tfmot requires).

Everything else that needs Keras does ``from edgeseg._keras import tf, keras``. Importing this
module is the moment TensorFlow loads; runtime/, bench/ and cli/ import it only inside handlers.
"""

from __future__ import annotations

import os

# Keras 2 (tf_keras) for tf.keras inside TF and for tfmot; quiet C++ logs unless asked for.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from edgeseg.core.native_log import native_stderr  # noqa: E402

# absl prints oneDNN/CUDA notices to fd 2 during import whatever TF_CPP_MIN_LOG_LEVEL says; they go to
# logging (DEBUG) instead, so a CLI error stays one line.
with native_stderr("tensorflow import"):
    import tensorflow as tf  # noqa: E402
    import tf_keras as keras  # noqa: E402

    tf.config.list_physical_devices()  # platform probing logs (e.g. cuInit failing on CPU hosts) too

__all__ = ["tf", "keras", "set_threads"]


def set_threads(threads: int | None) -> None:
    """Limit TensorFlow's intra/inter-op pools (must run before the first op executes)."""
    if not threads:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # already initialised: the first call wins
        pass
