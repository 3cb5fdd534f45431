"""Recurrent amp model: LSTM over [audio, knobs...] -> linear head, plus an input skip.

Wright, Damskägg and Välimäki, "Real-time black-box modelling with recurrent neural
networks", DAFx 2019. C++ twin: cpp/include/neuralfx/layers/lstm.hpp."""

from __future__ import annotations

from typing import Any, ClassVar, Optional, Sequence

import torch
from torch import Tensor, nn


class LSTM(nn.Module):
    type_name: ClassVar[str] = "LSTM"

    def __init__(
        self, hidden_size: int = 32, num_layers: int = 1, conditioning: Sequence[str] = (), skip: bool = True
    ) -> None:
        super().__init__()
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.conditioning = list(conditioning)
        self.skip = bool(skip)
        self.lstm = nn.LSTM(1 + len(self.conditioning), self.hidden_size, self.num_layers, batch_first=True)
        self.head = nn.Linear(self.hidden_size, 1)
        # Filled by neuralfx.model.Model: where each conditioning knob sits in the knob tensor.
        self.register_buffer("knob_index", torch.zeros(len(self.conditioning), dtype=torch.long), persistent=False)

    def config(self) -> dict[str, Any]:
        return {
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "skip": self.skip,
            "conditioning": self.conditioning,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "LSTM":
        return cls(
            hidden_size=config["hidden_size"],
            num_layers=config.get("num_layers", 1),
            conditioning=config.get("conditioning", []),
            skip=config.get("skip", True),
        )

    def forward(
        self, x: Tensor, knobs: Optional[Tensor] = None, state: Optional[tuple[Tensor, Tensor]] = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """x: (batch, samples); knobs: (batch, all_knobs, samples) normalized 0..1."""
        inputs = x.unsqueeze(-1)
        if self.conditioning:
            cond = knobs.index_select(1, self.knob_index).transpose(1, 2)
            inputs = torch.cat([inputs, cond], dim=-1)
        hidden, state = self.lstm(inputs, state)
        y = self.head(hidden).squeeze(-1)
        return (y + x if self.skip else y), state
