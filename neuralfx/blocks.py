"""Registry of block types: the "type" string in a model file -> its torch module class.

Each class has `type_name`, `config()`, `from_config(config)` and a `forward(x, knobs, state)`
returning `(y, state)`; its state_dict names are the weight names in the file. The C++ side
keeps the same table in cpp/src/registry.cpp."""

from __future__ import annotations

from torch import nn

from .errors import ModelFileError
from .dsp import Biquad, Compressor, Gain, NoiseGate, ParametricEQ, Waveshaper
from .models.gru import GRU
from .models.lstm import LSTM

BLOCK_TYPES: dict[str, type[nn.Module]] = {
    cls.type_name: cls for cls in (LSTM, GRU, Gain, Biquad, ParametricEQ, Waveshaper, Compressor, NoiseGate)
}


def block_class(type_name: str, where: str = "block") -> type[nn.Module]:
    try:
        return BLOCK_TYPES[type_name]
    except KeyError:
        known = ", ".join(sorted(BLOCK_TYPES))
        raise ModelFileError(f"{where}.type: unknown block type '{type_name}' (known: {known})") from None
