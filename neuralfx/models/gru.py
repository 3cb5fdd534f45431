"""GRU amp model. C++ twin: cpp/include/neuralfx/layers/gru.hpp."""

from __future__ import annotations

from torch import nn

from .recurrent import RecurrentAmp


class GRU(RecurrentAmp):
    type_name = "GRU"
    cell = nn.GRU
    cell_attribute = "gru"
