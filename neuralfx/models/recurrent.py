"""Recurrent amp models: an RNN over [audio, knobs...] -> linear head, plus an input skip.

Wright, Damskägg and Välimäki, "Real-time black-box modelling with recurrent neural
networks", DAFx 2019. Subclasses pick the cell (LSTM, GRU); the C++ twins live in
cpp/include/neuralfx/layers/<name>.hpp."""

from __future__ import annotations

from typing import Any, ClassVar, Optional, Sequence

import torch
from torch import Tensor, nn

from .config_checks import MAX_HIDDEN_SIZE, MAX_RECURRENT_LAYERS, check_bool, check_int, check_names


class RecurrentAmp(nn.Module):
    type_name: ClassVar[str]
    # The config entries a model file may give (blocks.build_block refuses others, as the C++
    # registry does; tests/test_modelfile.py compares the two lists).
    config_entries: ClassVar[tuple[str, ...]] = ("hidden_size", "num_layers", "skip", "conditioning")
    # The torch RNN class, and the attribute it is stored under: its state_dict prefix, which is
    # part of the model file ("lstm.weight_ih_l0", "gru.weight_ih_l0").
    cell: ClassVar[type[nn.RNNBase]]
    cell_attribute: ClassVar[str]

    def __init__(
        self, hidden_size: int = 32, num_layers: int = 1, conditioning: Sequence[str] = (), skip: bool = True
    ) -> None:
        super().__init__()
        self.hidden_size = check_int("hidden_size", hidden_size, 1, MAX_HIDDEN_SIZE)
        self.num_layers = check_int("num_layers", num_layers, 1, MAX_RECURRENT_LAYERS)
        self.conditioning = check_names("conditioning", conditioning)
        self.skip = check_bool("skip", skip)
        self.add_module(self.cell_attribute,
                        self.cell(1 + len(self.conditioning), self.hidden_size, self.num_layers, batch_first=True))
        self.head = nn.Linear(self.hidden_size, 1)
        # Filled by neuralfx.model.Model: where each conditioning knob sits in the knob tensor.
        self.register_buffer("knob_index", torch.zeros(len(self.conditioning), dtype=torch.long), persistent=False)

    @property
    def rnn(self) -> nn.RNNBase:
        return getattr(self, self.cell_attribute)

    def config(self) -> dict[str, Any]:
        return {
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "skip": self.skip,
            "conditioning": self.conditioning,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "RecurrentAmp":
        return cls(
            hidden_size=config["hidden_size"],
            num_layers=config.get("num_layers", 1),
            conditioning=config.get("conditioning", []),
            skip=config.get("skip", True),
        )

    def forward(self, x: Tensor, knobs: Optional[Tensor] = None, state: Any = None) -> tuple[Tensor, Any]:
        """x: (batch, samples); knobs: (batch, all_knobs, samples) normalized 0..1."""
        inputs = x.unsqueeze(-1)
        if self.conditioning:
            cond = knobs.index_select(1, self.knob_index).transpose(1, 2)
            inputs = torch.cat([inputs, cond], dim=-1)
        hidden, state = self.rnn(inputs, state)
        y = self.head(hidden).squeeze(-1)
        return (y + x if self.skip else y), state
