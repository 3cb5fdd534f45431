"""Second-order IIR filters after Robert Bristow-Johnson's "Cookbook formulae for audio EQ
biquad filter coefficients" (the RBJ Audio EQ Cookbook, W3C Audio WG note, 2005/2021:
https://www.w3.org/TR/audio-eq-cookbook/). C++ twin: cpp/include/neuralfx/dsp/biquad.hpp.

Coefficients are computed in float64 from float32 parameters, and the recursion runs in
float64 as Direct Form I on both sides:

    y[n] = b0 x[n] + b1 x[n-1] + b2 x[n-2] - a1 y[n-1] - a2 y[n-2]     (a0 normalized to 1)

float64 state matters at the low end: at 20 Hz and 48 kHz the poles sit within ~1e-3 of the
unit circle, where float32 rounding would be amplified past the 1e-4 parity contract.

For training the recursion is not a Python loop: the FIR part is vectorized and the all-pole
part runs through ``torchlpc.sample_wise_lpc`` (Yu et al., "Differentiable all-pole filters
for time-varying audio systems", DAFx 2024), which evaluates the exact time-domain recursion
with per-sample (time-varying) coefficients and differentiates through it. So training,
export and parity all use the same exact filter; nothing is approximated.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, ClassVar, Mapping, Optional, Sequence

import torch
from torch import Tensor

from ..models.config_checks import check_block_rate
from .params import ParamBlock, ParamSpec

MODES = ("lowpass", "highpass", "bandpass", "notch", "peak", "lowshelf", "highshelf", "lowpass1", "highpass1")
# The modes whose response depends on gain_db; for the others gain_db is inert.
GAIN_MODES = ("peak", "lowshelf", "highshelf")

MIN_FREQUENCY = 20.0
# Above ~0.49 fs the bilinear-transform prewarp (tan of w0/2) diverges; the cookbook's
# formulas stay finite but the filter stops meaning its label.
MAX_FREQUENCY_RATIO = 0.49
GAIN_DB = ParamSpec("gain_db", -24.0, 24.0, 0.0, "dB")
Q = ParamSpec("q", 0.1, 20.0, 1.0 / math.sqrt(2.0), "", log_steps=True)


def frequency_spec(sample_rate: float) -> ParamSpec:
    """The frequency range depends on the rate the block was designed for."""
    return ParamSpec("frequency", MIN_FREQUENCY, MAX_FREQUENCY_RATIO * float(sample_rate), 1000.0, "Hz", log_steps=True)


def rbj_coefficients(
    mode: str, sample_rate: float, frequency: Tensor, gain_db: Tensor, q: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """(b0, b1, b2, a1, a2), each divided by a0, in float64; parameters broadcast together.

    The formulas are the cookbook's, with A = 10^(gain_db/40), w0 = 2 pi f / fs and
    alpha = sin(w0) / (2 Q) (the Q form of alpha, also for the shelves). "lowpass1" and
    "highpass1" are first-order filters (6 dB/octave, q ignored) by the bilinear transform with
    prewarping, K = tan(w0 / 2): the design of Pedalboard's (JUCE's) LowpassFilter and
    HighpassFilter, which capture chains often contain."""
    if mode not in MODES:
        raise ValueError(f"mode '{mode}' is not one of {', '.join(MODES)}")
    f, g, q = (t.to(torch.float64) for t in (frequency, gain_db, q))
    w0 = 2.0 * math.pi * f / float(sample_rate)
    cw, sw = torch.cos(w0), torch.sin(w0)
    alpha = sw / (2.0 * q)
    one = torch.ones_like(cw)
    if mode in ("lowpass1", "highpass1"):
        k = torch.tan(w0 / 2.0)
        zero = 0.0 * cw
        b0, b1 = (k, k) if mode == "lowpass1" else (one, -one)
        return b0 / (1.0 + k), b1 / (1.0 + k), zero, (k - 1.0) / (k + 1.0), zero
    if mode == "lowpass":
        b0, b1, b2 = (1.0 - cw) / 2.0, 1.0 - cw, (1.0 - cw) / 2.0
        a0, a1, a2 = 1.0 + alpha, -2.0 * cw, 1.0 - alpha
    elif mode == "highpass":
        b0, b1, b2 = (1.0 + cw) / 2.0, -(1.0 + cw), (1.0 + cw) / 2.0
        a0, a1, a2 = 1.0 + alpha, -2.0 * cw, 1.0 - alpha
    elif mode == "bandpass":  # constant 0 dB peak gain
        b0, b1, b2 = alpha, 0.0 * cw, -alpha
        a0, a1, a2 = 1.0 + alpha, -2.0 * cw, 1.0 - alpha
    elif mode == "notch":
        b0, b1, b2 = one, -2.0 * cw, one
        a0, a1, a2 = 1.0 + alpha, -2.0 * cw, 1.0 - alpha
    else:
        A = torch.pow(10.0, g / 40.0)
        if mode == "peak":
            b0, b1, b2 = 1.0 + alpha * A, -2.0 * cw, 1.0 - alpha * A
            a0, a1, a2 = 1.0 + alpha / A, -2.0 * cw, 1.0 - alpha / A
        else:
            k = 2.0 * torch.sqrt(A) * alpha
            if mode == "lowshelf":
                b0 = A * ((A + 1.0) - (A - 1.0) * cw + k)
                b1 = 2.0 * A * ((A - 1.0) - (A + 1.0) * cw)
                b2 = A * ((A + 1.0) - (A - 1.0) * cw - k)
                a0 = (A + 1.0) + (A - 1.0) * cw + k
                a1 = -2.0 * ((A - 1.0) + (A + 1.0) * cw)
                a2 = (A + 1.0) + (A - 1.0) * cw - k
            else:  # highshelf
                b0 = A * ((A + 1.0) + (A - 1.0) * cw + k)
                b1 = -2.0 * A * ((A - 1.0) + (A + 1.0) * cw)
                b2 = A * ((A + 1.0) + (A - 1.0) * cw - k)
                a0 = (A + 1.0) - (A - 1.0) * cw + k
                a1 = 2.0 * ((A - 1.0) - (A + 1.0) * cw)
                a2 = (A + 1.0) - (A - 1.0) * cw - k
    return b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0


def biquad_filter(
    x: Tensor, coefficients: Sequence[Tensor], state: Optional[Tensor] = None
) -> tuple[Tensor, Tensor]:
    """Direct Form I in float64. x: (batch, samples); each coefficient broadcastable to
    (batch, samples) (per-sample coefficients = time-varying filter). state: (batch, 4) =
    [x[-2], x[-1], y[-1], y[-2]] or None for silence. Returns (y float64, new state)."""
    x = x.to(torch.float64)
    batch, samples = x.shape
    if state is None:
        state = x.new_zeros(batch, 4)
    try:  # imported here: torchlpc pulls in numba, which is slow to import and optional elsewhere
        from torchlpc import sample_wise_lpc
    except ImportError as e:
        raise ImportError(
            "neuralfx's biquad filters need torchlpc: pip install --no-build-isolation torchlpc==0.7.2"
        ) from e
    b0, b1, b2, a1, a2 = coefficients
    padded = torch.cat([state[:, :2], x], dim=1)  # [x[-2], x[-1], x[0], ...]
    v = b0 * padded[:, 2:] + b1 * padded[:, 1:-1] + b2 * padded[:, :-2]
    a = torch.stack([a1.expand(batch, samples), a2.expand(batch, samples)], dim=-1).contiguous()
    y = sample_wise_lpc(v.contiguous(), a, state[:, 2:].contiguous())
    # New state from the last two samples (or carried over when the chunk is shorter).
    x_hist = torch.cat([state[:, :2], x], dim=1)[:, -2:]
    y_hist = torch.cat([state[:, 2:].flip(1), y], dim=1)[:, -2:].flip(1)
    return y, torch.cat([x_hist, y_hist], dim=1)


def biquad(
    x: Tensor, sample_rate: float, frequency: Tensor, gain_db: Tensor, q: Tensor, mode: str = "peak"
) -> Tensor:
    """Functional form: x (batch, samples) filtered by the RBJ biquad, output in x's dtype."""
    y, _ = biquad_filter(x, rbj_coefficients(mode, sample_rate, frequency, gain_db, q))
    return y.to(x.dtype)


# What a band config may hold (Biquad.from_band).
BAND_ENTRIES = ("mode", "knobs", "frequency", "gain_db", "q")


class Biquad(ParamBlock):
    """One RBJ biquad; mode in config; frequency, gain_db and q are trainable weights."""

    type_name: ClassVar[str] = "Biquad"
    config_entries: ClassVar[tuple[str, ...]] = ("mode", "sample_rate", "knobs")

    def __init__(
        self,
        mode: str = "peak",
        sample_rate: float = 48000.0,
        frequency: float = 1000.0,
        gain_db: float = GAIN_DB.default,
        q: float = Q.default,
        knobs: Optional[Mapping[str, str]] = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"Biquad.mode: '{mode}' is not one of {', '.join(MODES)}")
        self.mode = mode
        self.sample_rate = check_block_rate("Biquad", sample_rate)
        super().__init__(knobs, {"frequency": frequency, "gain_db": gain_db, "q": q})

    def param_specs(self) -> Sequence[ParamSpec]:
        return (frequency_spec(self.sample_rate), GAIN_DB, Q)

    def config(self) -> dict[str, Any]:
        return {"mode": self.mode, "sample_rate": self.sample_rate, **self.binding_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Biquad":
        return cls(mode=config["mode"], sample_rate=config["sample_rate"], knobs=config.get("knobs"))

    @classmethod
    def from_band(cls, band: Any, sample_rate: float) -> "Biquad":
        """A ParametricEQ band or a Waveshaper's pre/post filter: {"mode", "knobs"}, and in a
        template "frequency", "gain_db" and "q" as starting values. Another entry (a misspelt
        "freq") is refused: it was dropped, and the band started at 1000 Hz."""
        if not isinstance(band, dict):
            raise ValueError(f"a band is an object {{\"mode\": ..., ...}}, not {band!r}")
        if "mode" not in band:
            raise ValueError(f"a band needs 'mode' (one of {', '.join(MODES)})")
        unknown = sorted(set(band) - set(BAND_ENTRIES))
        if unknown:
            raise ValueError(f"band entry {', '.join(map(repr, unknown))} is not one of {', '.join(BAND_ENTRIES)}")
        for name in ("frequency", "gain_db", "q"):  # "300" was read as 300 here and refused by the C++ reader
            if name in band and (isinstance(band[name], (str, bytes, bool)) or not isinstance(band[name], numbers.Real)):
                raise ValueError(f"band entry '{name}' must be a number, got {band[name]!r}")
        return cls(mode=band["mode"], sample_rate=sample_rate, knobs=band.get("knobs"),
                   **{k: band[k] for k in ("frequency", "gain_db", "q") if k in band})

    def coefficients(self, values: dict[str, Tensor]) -> tuple[Tensor, ...]:
        return rbj_coefficients(self.mode, self.sample_rate, values["frequency"], values["gain_db"], values["q"])

    def filter64(self, x: Tensor, values: dict[str, Tensor], state: Optional[Tensor]) -> tuple[Tensor, Tensor]:
        """float64 in and out, for chains that stay in float64 between filters (as C++ does)."""
        return biquad_filter(x, self.coefficients(values), state)

    def _process(self, x: Tensor, values: dict[str, Tensor], state: Any) -> tuple[Tensor, Any]:
        y, state = self.filter64(x, values, state)
        return y.to(x.dtype), state
