"""Model zoo: a name -> builder registry and one module per architecture."""

from edgeseg.models.flops import count_flops, count_macs, gflops
from edgeseg.models.registry import (
    ModelInfo,
    build,
    get_info,
    input_multiple,
    list_models,
    resolve_options,
    round_up_size,
)

__all__ = [
    "ModelInfo",
    "build",
    "count_flops",
    "count_macs",
    "get_info",
    "gflops",
    "input_multiple",
    "list_models",
    "resolve_options",
    "round_up_size",
]
