"""Neural network blocks; each has a C++ twin of the same name in cpp/include/neuralfx/layers/."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The blocks load on first use (PEP 562), as the package's public names do: modelfile reads its
# limits from config_checks, which imported this package and so torch (3.5 s), and neuralfx.load
# needs no torch.
_BLOCKS = {"GRU": ".gru", "LSTM": ".lstm", "TCN": ".tcn", "WaveNet": ".wavenet"}

if TYPE_CHECKING:
    from .gru import GRU
    from .lstm import LSTM
    from .tcn import TCN
    from .wavenet import WaveNet

__all__ = ["GRU", "LSTM", "TCN", "WaveNet"]


def __getattr__(name: str) -> Any:
    if name not in _BLOCKS:
        raise AttributeError(f"module 'neuralfx.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(_BLOCKS[name], __name__), name)
    globals()[name] = value
    return value
