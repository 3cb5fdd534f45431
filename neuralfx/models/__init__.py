"""Neural network blocks; each has a C++ twin of the same name in cpp/include/neuralfx/layers/."""

from .lstm import LSTM

__all__ = ["LSTM"]
