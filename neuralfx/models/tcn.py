"""Causal temporal convolutional network for dynamics (compressors), micro-TCN style.
C++ twin: cpp/include/neuralfx/layers/tcn.hpp.

Steinmetz and Reiss, "Efficient neural networks for real-time modeling of analog dynamic range
compression", AES 2022: a few dilated convolutions with a large kernel and fast-growing dilation,
FiLM conditioning, PReLU, residual connections. Here causal (the paper's model is not), and
without batch norm (FiLM's scale and shift take its place, nothing to fold at export).

    y = x (one channel)
    per layer l: z = prelu(film(conv_d(y)));  y = z + res(y)
        res: a 1x1 convolution (no bias) where the channel count changes (layer 0), else identity
    output = w . y + b (1x1 to one channel)"""

from __future__ import annotations

from typing import Any, ClassVar, Optional, Sequence

import torch
from torch import Tensor, nn

from .config_checks import check_conv_extent, check_int, check_int_list, check_names
from .conv import FiLM, causal_conv


class _TCNLayer(nn.Module):
    def __init__(self, in_channels: int, channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, channels, kernel_size, dilation=dilation)
        self.act = nn.PReLU(channels)
        self.res = nn.Conv1d(in_channels, channels, 1, bias=False) if in_channels != channels else None


class TCN(nn.Module):
    type_name: ClassVar[str] = "TCN"
    config_entries: ClassVar[tuple[str, ...]] = ("channels", "kernel_size", "dilations", "conditioning")

    def __init__(
        self,
        channels: int = 16,
        kernel_size: int = 13,
        dilations: Sequence[int] = (1, 4, 16, 64, 256),
        conditioning: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.channels = check_int("channels", channels, 1, 256)
        self.kernel_size = check_int("kernel_size", kernel_size, 1, 64)
        self.dilations = check_int_list("dilations", dilations, 1, 8192)
        check_conv_extent([self.kernel_size], [self.dilations])
        self.conditioning = check_names("conditioning", conditioning)
        self.layers = nn.ModuleList(
            _TCNLayer(1 if i == 0 else self.channels, self.channels, self.kernel_size, d) for i, d in enumerate(self.dilations)
        )
        self.output = nn.Conv1d(self.channels, 1, 1)
        self.film = FiLM(len(self.conditioning), [self.channels] * len(self.dilations)) if self.conditioning else None
        self.register_buffer("knob_index", torch.zeros(len(self.conditioning), dtype=torch.long), persistent=False)

    @property
    def receptive_field(self) -> int:
        return 1 + sum((self.kernel_size - 1) * d for d in self.dilations)

    def config(self) -> dict[str, Any]:
        return {"channels": self.channels, "kernel_size": self.kernel_size, "dilations": self.dilations,
                "conditioning": self.conditioning}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "TCN":
        return cls(config["channels"], config["kernel_size"], config["dilations"], config.get("conditioning", []))

    def forward(self, x: Tensor, knobs: Optional[Tensor] = None, state: Any = None) -> tuple[Tensor, list]:
        """x: (batch, samples); knobs: (batch, all_knobs, samples) normalized 0..1; state: the
        per-layer input histories returned by the previous call (None: silence before x)."""
        film = self.film(knobs.index_select(1, self.knob_index)) if self.film is not None else None
        y = x.unsqueeze(1)
        new_state: list = []
        for i, layer in enumerate(self.layers):
            z, history = causal_conv(layer.conv, y, state[i] if state is not None else None)
            new_state.append(history)
            if film is not None:
                scale, shift = film[i]
                z = z * scale + shift
            z = layer.act(z)
            y = z + (layer.res(y) if layer.res is not None else y)
        return self.output(y)[:, 0], new_state
