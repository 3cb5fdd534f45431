"""Gain in dB. C++ twin: cpp/include/neuralfx/dsp/gain.hpp."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Optional, Sequence

import torch
from torch import Tensor

from .params import ParamBlock, ParamSpec

GAIN_DB = ParamSpec("gain_db", -60.0, 24.0, 0.0, "dB")


def db_to_linear(gain_db: Tensor) -> Tensor:
    """float64 in, float64 out: the C++ twin computes std::pow(10.0, g / 20.0) in double."""
    return torch.pow(10.0, gain_db.to(torch.float64) / 20.0)


def gain(x: Tensor, sample_rate: float, gain_db: Tensor) -> Tensor:
    """x * 10^(gain_db/20). gain_db broadcasts against x; the factor is rounded to x's dtype
    before the multiply, as the kernel does (one float32 multiply per sample)."""
    del sample_rate  # part of the common signature f(x, sample_rate, *params); gain needs none
    return x * db_to_linear(gain_db).to(x.dtype)


class Gain(ParamBlock):
    type_name: ClassVar[str] = "Gain"
    config_entries: ClassVar[tuple[str, ...]] = ("knobs",)

    def __init__(self, gain_db: float = GAIN_DB.default, knobs: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(knobs, {"gain_db": gain_db})

    def param_specs(self) -> Sequence[ParamSpec]:
        return (GAIN_DB,)

    def config(self) -> dict[str, Any]:
        return self.binding_config()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Gain":
        return cls(knobs=config.get("knobs"))

    def _process(self, x: Tensor, values: dict[str, Tensor], state: Any) -> tuple[Tensor, Any]:
        return gain(x, 0.0, values["gain_db"]), None
