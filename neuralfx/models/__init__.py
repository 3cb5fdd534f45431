"""Neural network blocks; each has a C++ twin of the same name in cpp/include/neuralfx/layers/."""

from .gru import GRU
from .lstm import LSTM
from .tcn import TCN
from .wavenet import WaveNet

__all__ = ["GRU", "LSTM", "TCN", "WaveNet"]
