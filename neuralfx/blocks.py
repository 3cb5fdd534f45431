"""Registry of block types: the "type" string in a model file -> its torch module class.

Each class has `type_name`, `config()`, `from_config(config)` and a `forward(x, knobs, state)`
returning `(y, state)`; its state_dict names are the weight names in the file. The C++ side
keeps the same table in cpp/src/registry.cpp."""

from __future__ import annotations

from typing import Any

from torch import nn

from .errors import ModelFileError
from .dsp import Biquad, Compressor, Delay, DryWet, Gain, NoiseGate, ParametricEQ, Waveshaper
from .models.gru import GRU
from .models.lstm import LSTM
from .models.tcn import TCN
from .models.wavenet import WaveNet

BLOCK_TYPES: dict[str, type[nn.Module]] = {
    cls.type_name: cls
    for cls in (LSTM, GRU, WaveNet, TCN, Gain, Biquad, ParametricEQ, Waveshaper, Compressor, NoiseGate, Delay, DryWet)
}


def block_class(type_name: str, where: str = "block") -> type[nn.Module]:
    try:
        return BLOCK_TYPES[type_name]
    except KeyError:
        known = ", ".join(sorted(BLOCK_TYPES))
        raise ModelFileError(f"{where}.type: unknown block type '{type_name}' (known: {known})") from None


def build_block(type_name: str, config: dict[str, Any], where: str = "block") -> nn.Module:
    """The block a model file describes (before its weights), errors naming `where`'s fields.
    Containers (DryWet) build their inner blocks with it and report paths below their own."""
    block_type = block_class(type_name, where)
    entries = config_entries(block_type)
    unknown = [name for name in config if name not in entries] if isinstance(config, dict) else []
    if unknown:  # a misspelt "atack_ms" was ignored, by the C++ reader too (cpp/src/registry.cpp)
        raise ModelFileError(f"{where}.config: unknown entry '{unknown[0]}' (its entries: {', '.join(entries)})")
    try:
        return block_type.from_config(config)
    except ModelFileError as e:  # from a container: the path of the inner field
        raise ModelFileError(f"{where}.config.{e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{where}.config: invalid for {type_name}: {e}") from None


def config_entries(block_type: type[nn.Module]) -> tuple[str, ...]:
    """The config entries a block type takes: its own, then "sample_rate" and "knobs"."""
    return (*block_type.config_entries, "sample_rate", "knobs")
