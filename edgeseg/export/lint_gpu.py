"""Which ops of a .tflite LiteRT's GPU accelerator will refuse: op types it lacks, op versions above its maximum."""

from __future__ import annotations

from typing import Any

#: Ops the TFLite GPU delegate accepts. Source: the "Supported ops" list of the TFLite GPU delegate
#: documentation (ai.google.dev/edge/litert/performance/gpu, formerly tensorflow.org/lite/performance/gpu),
#: plus ops its model_builder.cc parses that the list omits (MEAN, RESIZE_NEAREST_NEIGHBOR, TANH,
#: HARD_SWISH, DIV, SLICE, SPLIT, TRANSPOSE, QUANTIZE/DEQUANTIZE at the edges). Anything else falls back to CPU.
GPU_SUPPORTED = frozenset({
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "EXP", "FULLY_CONNECTED",
    "LOGICAL_AND", "LOGISTIC", "LSTM", "MAX_POOL_2D", "MAXIMUM", "MINIMUM", "MUL", "PAD", "PRELU", "RELU",
    "RELU6", "RESHAPE", "RESIZE_BILINEAR", "SOFTMAX", "STRIDED_SLICE", "SUB", "TRANSPOSE_CONV",
    "MEAN", "RESIZE_NEAREST_NEIGHBOR", "TANH", "HARD_SWISH", "DIV", "SLICE", "SPLIT", "TRANSPOSE",
    "QUANTIZE", "DEQUANTIZE", "LEAKY_RELU", "ELU", "PADV2", "MIRROR_PAD",
})

#: Highest op version the GPU accelerator takes, where a converter emits higher ones. Measured with
#: ai-edge-litert 2.3's WebGPU accelerator on Mesa lavapipe (tests/gpu): the converter writes TRANSPOSE_CONV
#: version 4 when a ReLU is fused into it (ENet, U-Net and LinkNet decoders), and the delegate logs
#: "TRANSPOSE_CONV: Max version supported: 3. Requested version 4." and leaves it to the CPU.
GPU_MAX_VERSION = {"TRANSPOSE_CONV": 3}

#: Measured the same way: in an fp16 file, every DEQUANTIZE of fp16 weights is refused (the delegate's
#: reason is empty), so those run on the CPU and the GPU partition reads the weights as inputs.
FP16_DEQUANTIZE = "DEQUANTIZE of fp16 weights: LiteRT's GPU accelerator (WebGPU, 2.3) does not take it"

_FLOAT16 = 1  # TensorType.FLOAT16


def gpu_gaps(buf: bytes) -> dict[str, str]:
    """``{op: reason}`` for every op type of the main subgraph that the GPU accelerator will leave to the CPU.

    Besides the op type (``GPU_SUPPORTED``) this reads each operator's version (``GPU_MAX_VERSION``) and
    the input type of ``DEQUANTIZE`` (fp16 weights). The delegate then takes one partition: ops after a
    refused op may run on the CPU too, which the runtime's ``delegated_ops()`` counts.
    """
    from edgeseg.runtime.tflite_reader import CUSTOM_CODE, builtin_code, model_of, opcode_name

    model = model_of(buf)
    sub = model.Subgraphs(0)
    gaps: dict[str, str] = {}
    for j in range(sub.OperatorsLength()):
        op = sub.Operators(j)
        oc = model.OperatorCodes(op.OpcodeIndex())
        if builtin_code(oc) == CUSTOM_CODE:  # custom ops: lint's own "not a builtin" finding
            continue
        name, version = opcode_name(oc), int(oc.Version())
        reason = _reason(name, version, _input_type(sub, op))
        if reason and name not in gaps:
            gaps[name] = reason
    return gaps


def _input_type(sub: Any, op: Any) -> int | None:
    if op.InputsLength() == 0 or op.Inputs(0) < 0:
        return None
    return int(sub.Tensors(op.Inputs(0)).Type())


def _reason(name: str, version: int, input_type: int | None) -> str | None:
    if name not in GPU_SUPPORTED:
        return "not in the GPU delegate's op list"
    top = GPU_MAX_VERSION.get(name)
    if top is not None and version > top:
        return f"version {version} (e.g. a fused activation); the GPU takes up to {top}"
    if name == "DEQUANTIZE" and input_type == _FLOAT16:
        return FP16_DEQUANTIZE
    return None
