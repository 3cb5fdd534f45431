"""LSTM amp model. C++ twin: cpp/include/neuralfx/layers/lstm.hpp."""

from __future__ import annotations

from torch import nn

from .recurrent import RecurrentAmp


class LSTM(RecurrentAmp):
    type_name = "LSTM"
    cell = nn.LSTM
    cell_attribute = "lstm"
