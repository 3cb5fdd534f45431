"""ParametricEQ: several RBJ biquads in series (see biquad.py for the cookbook citation).
C++ twin: cpp/include/neuralfx/dsp/eq.hpp.

Config: ``{"sample_rate": 48000, "bands": [{"mode": "lowshelf", "knobs": {...}}, ...]}``;
weights ``bands.<i>.frequency`` / ``gain_db`` / ``q``. The signal stays float64 between
bands (as in the kernel) and is rounded to float32 once, at the output."""

from __future__ import annotations

from typing import Any, ClassVar, Optional, Sequence

import torch
from torch import Tensor, nn

from ..models.config_checks import check_block_rate
from .biquad import Biquad


def split_knob_index(knob_index: Tensor, children: Sequence[nn.Module]) -> list[Tensor]:
    """The parent's knob_index (its children's bound knobs, concatenated in order) cut per child."""
    out, start = [], 0
    for child in children:
        n = len(child.conditioning)
        out.append(knob_index[start : start + n])
        start += n
    return out


class ParametricEQ(nn.Module):
    type_name: ClassVar[str] = "ParametricEQ"
    config_entries: ClassVar[tuple[str, ...]] = ("bands", "sample_rate")

    def __init__(self, bands: Sequence[dict[str, Any]], sample_rate: float = 48000.0) -> None:
        super().__init__()
        if not isinstance(bands, (list, tuple)) or not 1 <= len(bands) <= 32:
            raise ValueError("ParametricEQ.bands: expected a list of 1 to 32 band configs")
        self.sample_rate = check_block_rate("ParametricEQ", sample_rate)
        self.bands = nn.ModuleList(Biquad.from_band(b, self.sample_rate) for b in bands)
        self.register_buffer("knob_index", torch.zeros(len(self.conditioning), dtype=torch.long), persistent=False)

    @property
    def conditioning(self) -> list[str]:
        return [name for band in self.bands for name in band.conditioning]

    def config(self) -> dict[str, Any]:
        bands = []
        for band in self.bands:
            c = band.config()
            del c["sample_rate"]  # one rate for the whole EQ
            bands.append(c)
        return {"sample_rate": self.sample_rate, "bands": bands}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "ParametricEQ":
        return cls(bands=config["bands"], sample_rate=config["sample_rate"])

    def forward(
        self, x: Tensor, knobs: Optional[Tensor] = None, state: Optional[list] = None
    ) -> tuple[Tensor, list]:
        """x: (batch, samples); knobs: (batch, all_knobs, samples) normalized 0..1."""
        state = state if state is not None else [None] * len(self.bands)
        y = x.to(torch.float64)
        new_state = []
        for band, index, s in zip(self.bands, split_knob_index(self.knob_index, self.bands), state):
            y, s = band.filter64(y, band.parameter_values(knobs, index), s)
            new_state.append(s)
        return y.to(x.dtype), new_state
