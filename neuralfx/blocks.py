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
    check_config_entries(block_type, config, f"{where}.config")
    try:
        return block_type.from_config(config)
    except ModelFileError as e:  # from a container: the path of the inner field
        raise ModelFileError(f"{where}.config.{e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{where}.config: invalid for {type_name}: {e}") from None


def check_config_entries(block_type: type[nn.Module], config: Any, where: str) -> None:
    """Refuses an entry the block type does not take (a misspelt "atack_ms" was ignored, by the
    C++ reader too: cpp/src/registry.cpp), naming the first in name order, as the C++ reader does."""
    if not isinstance(config, dict):
        return  # from_config says what it expected
    entries = block_type.config_entries
    unknown = sorted(name for name in config if name not in entries)
    if unknown:
        raise ModelFileError(f"{where}: unknown entry '{unknown[0]}' (its entries: {', '.join(entries)})")
    if "knobs" in config and not isinstance(config["knobs"], dict):  # null was read as no bindings, refused by C++
        raise ModelFileError(f"{where}.knobs: expected an object {{parameter: knob name}}, got {config['knobs']!r}")
