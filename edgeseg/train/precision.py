"""Training precision: fp32, or bf16/fp16 mixed precision on a copy of the model (saved files stay float32)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from edgeseg._keras import keras, tf
from edgeseg.errors import UsageError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: Keras mixed-precision policy of each precision.
POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
#: CPU flags that give oneDNN bf16 matrix kernels (Zen 4 / Cooper Lake and later; Sapphire Rapids AMX).
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclass(frozen=True)
class Precision:
    """The precision a run trains in and why it was chosen.

    Attributes:
        name: ``fp32``, ``bf16`` or ``fp16``.
        reason: One line for the log and the manifest (e.g. ``auto: CPU has avx512_bf16``).
    """

    name: str
    reason: str

    @property
    def policy(self) -> str:
        """The Keras mixed-precision policy name."""
        return POLICIES[self.name]

    @property
    def mixed(self) -> bool:
        """Whether the training model computes in 16 bits (variables stay float32)."""
        return self.name != "fp32"


def cpu_flags(path: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU feature flags of the first processor listed (empty where /proc/cpuinfo is absent)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def _gpu_bf16() -> str | None:
    """Name of a GPU with bf16 tensor cores (compute capability >= 8.0), if TensorFlow sees one."""
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        if tuple(details.get("compute_capability", (0, 0))) >= (8, 0):
            return str(details.get("device_name", gpu.name))
    return None


def resolve_precision(requested: str, *, qat: bool = False, flags: set[str] | None = None) -> Precision:
    """The precision for ``--precision requested``.

    ``auto`` picks bf16 where the CPU has AVX512-BF16 or AMX (read from its flags) or a GPU has bf16
    tensor cores, fp32 elsewhere; QAT always trains in fp32 (its fake-quant ops are float32).
    """
    if requested not in PRECISIONS:
        raise UsageError(f"--precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    if qat:
        if requested in ("bf16", "fp16"):
            raise UsageError("--qat trains in fp32 (the fake-quant ops are float32); drop --precision")
        return Precision("fp32", "qat: fp32")
    if requested != "auto":
        return Precision(requested, "requested")
    gpu = _gpu_bf16()
    if gpu:
        return Precision("bf16", f"auto: GPU {gpu} has bf16 tensor cores")
    found = sorted((flags if flags is not None else cpu_flags()) & set(BF16_CPU_FLAGS))
    if found:
        return Precision("bf16", f"auto: CPU has {', '.join(found)}")
    return Precision("fp32", "auto: no bf16 units found (CPU flags avx512_bf16/amx_bf16, GPU >= sm_80)")


#: oneDNN's bf16 batch-norm kernels on AVX512-BF16 need a multiple of this many channels; other widths
#: fall back to its reference kernel (``nspc_bnorm:any``), measured 3 ms per call on 8x64x80x8, ~10x the
#: float32 kernel (benchmarks/bf16_profile.py with ONEDNN_VERBOSE=1, docs/train.md "Mixed precision").
BF16_BN_CHANNELS = 16


def float32_layers(model: keras.Model, policy: str, *, float32_outputs: bool = True) -> set[str]:
    """Names of the layers that compute in float32 in a ``policy`` copy of ``model``: the output layers
    (when asked) and, under bf16, batch norms of a width oneDNN has no bf16 kernel for."""
    keep = set(model.output_names) if float32_outputs else set()
    if policy == POLICIES["bf16"]:
        keep |= {layer.name for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
                 and int(layer.output.shape[-1]) % BF16_BN_CHANNELS}
    return keep


def with_policy(model: keras.Model, policy: str, *, float32_outputs: bool = True) -> keras.Model:
    """A copy of functional ``model`` whose layers compute under ``policy`` (same float32 weights).

    Every loss casts the logits to float32 before its softmax, so the loss, the softmax and the metrics
    are float32 either way; ``float32_outputs`` also keeps the output layers (the classifiers) in
    float32, as Keras' mixed-precision guide advises (a bf16 classifier measured no faster, within noise).
    Under bf16, batch norms whose channel count is not a multiple of :data:`BF16_BN_CHANNELS` stay float32
    too (Keras casts around them); see :func:`float32_layers`.
    """
    config = copy.deepcopy(model.get_config())
    keep = float32_layers(model, policy, float32_outputs=float32_outputs)
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            continue
        name = "float32" if layer["config"]["name"] in keep else policy
        layer["config"]["dtype"] = {"class_name": "Policy", "config": {"name": name}}
    clone = keras.Model.from_config(config)
    clone.set_weights(model.get_weights())
    return clone


def loss_scale_optimizer(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """fp16 needs dynamic loss scaling against gradient underflow (bf16 has fp32's range and does not)."""
    return keras.mixed_precision.LossScaleOptimizer(optimizer)


__all__ = ["PRECISIONS", "Precision", "resolve_precision", "with_policy", "float32_layers", "cpu_flags",
           "loss_scale_optimizer"]
