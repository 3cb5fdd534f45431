"""Waveshaper: y = post(curve(drive * pre(x) + bias) - curve(bias)).

Subtracting curve(bias) keeps silence silent (no DC step when bias moves from 0). pre/post
are optional RBJ Biquad tone filters (biquad.py). Everything runs in float64 and is rounded
to float32 once, at the output, as in the C++ twin cpp/include/neuralfx/dsp/waveshaper.hpp.

Curves (slope 1 at the origin, except softclip's 1.5: +3.5 dB on small signals). Each lies in
[-1, 1], so the output lies in [-1 - curve(bias), 1 - curve(bias)]: with a bias it carries DC
once there is signal (-0.92 for hardclip at +24 dB drive and bias 1 on a sine at 0.5). No
oversampling: harmonics above half the rate alias (docs/DSP.md says how to oversample).

- ``tanh``: tanh(u)
- ``arctan``: (2/pi) atan(pi/2 u)
- ``softclip``: cubic 1.5 c - 0.5 c^3 with c = clamp(u, -1, 1); first derivative continuous
  (it reaches 0 at |u| = 1)
- ``hardclip``: clamp(u, -1, 1) exactly in the forward pass; its backward pass uses the
  derivative of the smooth surrogate u - s softplus((u-1)/s) + s softplus((-u-1)/s),
  s = HARDCLIP_SMOOTHING, so gradients still reach drive/bias when the signal clips.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from ..models.config_checks import check_block_rate
from .biquad import Biquad
from .eq import split_knob_index
from .params import ParamBlock, ParamSpec

CURVES = ("tanh", "arctan", "softclip", "hardclip")
DRIVE_DB = ParamSpec("drive_db", -24.0, 48.0, 0.0, "dB")
BIAS = ParamSpec("bias", -1.0, 1.0, 0.0, "")
# Width (in units of the curve's input) of the surrogate knee used for hard clip gradients.
HARDCLIP_SMOOTHING = 0.1


class _HardClip(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, u: Tensor) -> Tensor:
        ctx.save_for_backward(u)
        return u.clamp(-1.0, 1.0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (u,) = ctx.saved_tensors
        s = HARDCLIP_SMOOTHING
        return grad * (1.0 - torch.sigmoid((u - 1.0) / s) - torch.sigmoid((-u - 1.0) / s))


def shape(u: Tensor, curve: str) -> Tensor:
    if curve == "tanh":
        return torch.tanh(u)
    if curve == "arctan":
        return (2.0 / math.pi) * torch.atan((math.pi / 2.0) * u)
    if curve == "softclip":
        c = u.clamp(-1.0, 1.0)
        return 1.5 * c - 0.5 * c * c * c
    if curve == "hardclip":
        return _HardClip.apply(u)
    raise ValueError(f"curve '{curve}' is not one of {', '.join(CURVES)}")


def waveshaper(x: Tensor, sample_rate: float, drive_db: Tensor, bias: Tensor, curve: str = "tanh") -> Tensor:
    """Functional form without tone filters; output in x's dtype."""
    del sample_rate  # common signature; the static curve needs no rate
    return _shape64(x.to(torch.float64), drive_db, bias, curve).to(x.dtype)


def _shape64(x: Tensor, drive_db: Tensor, bias: Tensor, curve: str) -> Tensor:
    drive = torch.pow(10.0, drive_db.to(torch.float64) / 20.0)
    bias = bias.to(torch.float64)
    return shape(drive * x + bias, curve) - shape(bias, curve)


class Waveshaper(ParamBlock):
    type_name: ClassVar[str] = "Waveshaper"
    config_entries: ClassVar[tuple[str, ...]] = ("curve", "sample_rate", "knobs", "pre", "post")

    def __init__(
        self,
        curve: str = "tanh",
        sample_rate: float = 48000.0,
        drive_db: float = DRIVE_DB.default,
        bias: float = BIAS.default,
        knobs: Optional[Mapping[str, str]] = None,
        pre: Optional[dict[str, Any]] = None,
        post: Optional[dict[str, Any]] = None,
    ) -> None:
        if curve not in CURVES:
            raise ValueError(f"Waveshaper.curve: '{curve}' is not one of {', '.join(CURVES)}")
        self.curve = curve
        self.sample_rate = check_block_rate("Waveshaper", sample_rate)
        super().__init__(knobs, {"drive_db": drive_db, "bias": bias})
        # Optional tone filters, configured like a ParametricEQ band ({"mode": ..., "knobs": ...}).
        self.pre = self._tone(pre)
        self.post = self._tone(post)
        self.knob_index = torch.zeros(len(self.conditioning), dtype=torch.long)

    def _tone(self, band: Optional[dict[str, Any]]) -> Optional[Biquad]:
        return None if band is None else Biquad.from_band(band, self.sample_rate)

    def param_specs(self) -> Sequence[ParamSpec]:
        return (DRIVE_DB, BIAS)

    def _parts(self) -> list[nn.Module]:
        return [p for p in (getattr(self, "pre", None), getattr(self, "post", None)) if p is not None]

    @property
    def conditioning(self) -> list[str]:
        own = super().conditioning
        return own + [name for p in self._parts() for name in p.conditioning]

    def config(self) -> dict[str, Any]:
        c: dict[str, Any] = {"curve": self.curve, "sample_rate": self.sample_rate, **self.binding_config()}
        for key in ("pre", "post"):
            part = getattr(self, key)
            if part is not None:
                band = part.config()
                del band["sample_rate"]
                c[key] = band
        return c

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Waveshaper":
        return cls(
            curve=config.get("curve", "tanh"),
            sample_rate=config["sample_rate"],
            knobs=config.get("knobs"),
            pre=config.get("pre"),
            post=config.get("post"),
        )

    def forward(self, x: Tensor, knobs: Optional[Tensor] = None, state: Optional[dict] = None) -> tuple[Tensor, dict]:
        """x: (batch, samples); knobs: (batch, all_knobs, samples) normalized 0..1."""
        own = len(super().conditioning)
        indices = [self.knob_index[:own]] + split_knob_index(self.knob_index[own:], self._parts())
        state = dict(state or {})
        values = self.parameter_values(knobs, indices[0])
        y = x.to(torch.float64)
        parts = iter(indices[1:])
        if self.pre is not None:
            y, state["pre"] = self.pre.filter64(y, self.pre.parameter_values(knobs, next(parts)), state.get("pre"))
        y = _shape64(y, values["drive_db"], values["bias"], self.curve)
        if self.post is not None:
            y, state["post"] = self.post.filter64(y, self.post.parameter_values(knobs, next(parts)), state.get("post"))
        return y.to(x.dtype), state
