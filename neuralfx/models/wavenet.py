"""WaveNet amp model in the layout of the Neural Amp Modeler (NAM) WaveNet: layer arrays of
causal dilated convolutions, each layer's activations summed into a head, the head of one array
feeding the next. C++ twin: cpp/include/neuralfx/layers/wavenet.hpp.

van den Oord et al., "WaveNet: A generative model for raw audio", 2016; the amp layout is
Atkinson's Neural Amp Modeler ("standard": two arrays, kernel 3, dilations 1..512, 16 then 8
channels, tanh, not gated, head scale 0.02). Knobs condition every layer by FiLM.

Per array a with C channels, input u (the audio for array 0, the previous array's residual
stream otherwise) and the audio x as condition:
    y = rechannel(u)                                  1x1, no bias
    per layer: z = tanh(conv_d(y) + mixin * x);  z = film(z);  head += z;  y = y + out(z)
    head = head_rechannel(head)                       1x1 to the next array's channels (to 1 at
                                                      the end, with bias)
and the model's output is head_scale * head."""

from __future__ import annotations

from typing import Any, ClassVar, Optional, Sequence

import torch
from torch import Tensor, nn

from .config_checks import check_conv_extent, check_float, check_int_list, check_names
from .conv import FiLM, causal_conv

NAM_DILATIONS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]

# Named layouts: "standard" is NAM's; "lite" is NAM's lite layout (12 then 6 channels).
PRESETS: dict[str, dict[str, Any]] = {
    "standard": {"channels": [16, 8], "kernel_sizes": [3, 3], "dilations": [NAM_DILATIONS, NAM_DILATIONS]},
    "lite": {"channels": [12, 6], "kernel_sizes": [3, 3],
             "dilations": [[1, 2, 4, 8, 16, 32, 64], [128, 256, 512, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512]]},
}


class _Layer(nn.Module):
    def __init__(self, channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        self.mixin = nn.Conv1d(1, channels, 1, bias=False)
        self.out = nn.Conv1d(channels, channels, 1)


class _LayerArray(nn.Module):
    def __init__(self, input_size: int, channels: int, kernel_size: int, dilations: Sequence[int], head_size: int,
                 head_bias: bool) -> None:
        super().__init__()
        self.rechannel = nn.Conv1d(input_size, channels, 1, bias=False)
        self.layers = nn.ModuleList(_Layer(channels, kernel_size, d) for d in dilations)
        self.head = nn.Conv1d(channels, head_size, 1, bias=head_bias)


class WaveNet(nn.Module):
    type_name: ClassVar[str] = "WaveNet"
    config_entries: ClassVar[tuple[str, ...]] = ("channels", "kernel_sizes", "dilations", "head_scale", "conditioning")

    def __init__(
        self,
        channels: Sequence[int] = (16, 8),
        kernel_sizes: Sequence[int] = (3, 3),
        dilations: Sequence[Sequence[int]] = (NAM_DILATIONS, NAM_DILATIONS),
        head_scale: float = 0.02,
        conditioning: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.channels = check_int_list("channels", channels, 1, 256)
        self.kernel_sizes = check_int_list("kernel_sizes", kernel_sizes, 1, 64)
        if len(self.kernel_sizes) != len(self.channels) or len(dilations) != len(self.channels):
            raise ValueError(f"channels, kernel_sizes and dilations need one entry per layer array, got "
                             f"{len(self.channels)}, {len(self.kernel_sizes)} and {len(dilations)}")
        self.dilations = [check_int_list(f"dilations[{a}]", d, 1, 8192) for a, d in enumerate(dilations)]
        check_conv_extent(self.kernel_sizes, self.dilations)
        self.head_scale = check_float("head_scale", head_scale, -1e6, 1e6)
        self.conditioning = check_names("conditioning", conditioning)
        n = len(self.channels)
        self.arrays = nn.ModuleList(
            _LayerArray(1 if a == 0 else self.channels[a - 1], self.channels[a], self.kernel_sizes[a], self.dilations[a],
                        self.channels[a + 1] if a + 1 < n else 1, head_bias=a + 1 == n)
            for a in range(n)
        )
        layer_channels = [c for c, d in zip(self.channels, self.dilations) for _ in d]
        self.film = FiLM(len(self.conditioning), layer_channels) if self.conditioning else None
        self.register_buffer("knob_index", torch.zeros(len(self.conditioning), dtype=torch.long), persistent=False)

    @classmethod
    def preset(cls, name: str, conditioning: Sequence[str] = ()) -> "WaveNet":
        if name not in PRESETS:
            raise ValueError(f"unknown WaveNet layout '{name}' (known: {', '.join(PRESETS)})")
        return cls(**PRESETS[name], conditioning=conditioning)

    @property
    def receptive_field(self) -> int:
        return 1 + sum((k - 1) * d for k, ds in zip(self.kernel_sizes, self.dilations) for d in ds)

    def config(self) -> dict[str, Any]:
        return {"channels": self.channels, "kernel_sizes": self.kernel_sizes, "dilations": self.dilations,
                "head_scale": self.head_scale, "conditioning": self.conditioning}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "WaveNet":
        return cls(config["channels"], config["kernel_sizes"], config["dilations"], config.get("head_scale", 0.02),
                   config.get("conditioning", []))

    def forward(self, x: Tensor, knobs: Optional[Tensor] = None, state: Any = None) -> tuple[Tensor, list]:
        """x: (batch, samples); knobs: (batch, all_knobs, samples) normalized 0..1; state: the
        per-layer input histories returned by the previous call (None: silence before x)."""
        audio = x.unsqueeze(1)
        film = self.film(knobs.index_select(1, self.knob_index)) if self.film is not None else None
        histories = list(state) if state is not None else None
        new_state: list = []
        y, head, index = audio, None, 0
        for array in self.arrays:
            y = array.rechannel(y)
            for layer in array.layers:
                conv, history = causal_conv(layer.conv, y, histories[index] if histories else None)
                new_state.append(history)
                z = torch.tanh(conv + layer.mixin(audio))
                if film is not None:
                    scale, shift = film[index]
                    z = z * scale + shift
                head = z if head is None else head + z
                y = y + layer.out(z)
                index += 1
            head = array.head(head)
        return self.head_scale * head[:, 0], new_state
