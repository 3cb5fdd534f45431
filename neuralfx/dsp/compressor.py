"""Feed-forward dynamic range compressor. C++ twin: cpp/include/neuralfx/dsp/compressor.hpp.

Static curve with a soft knee after Giannoulis, Massberg and Reiss, "Digital Dynamic Range
Compressor Design - A Tutorial and Analysis" (JAES 60(6), 2012), eq. 4, as a gain in dB for
the level x (dB), threshold T, ratio R, knee width W, d = x - T, s = 1/R - 1:

    0                          if 2d <= -W      (below the knee; also d = 0 at W = 0)
    s d                        if 2d >= W       (above the knee)
    s (d + W/2)^2 / (2 W)      otherwise        (inside the knee)

Detector, attack/release ballistics and numerics: dynamics.py. Output x * g * 10^(makeup/20).
"""

from __future__ import annotations

from typing import ClassVar, Mapping, Optional, Sequence

import torch
from torch import Tensor

from .dynamics import ATTACK_MS, DEFAULT_RMS_MS, RELEASE_MS, DynamicsBlock, dynamics_gain
from .gain import db_to_linear
from .params import ParamSpec

THRESHOLD_DB = ParamSpec("threshold_db", -80.0, 0.0, -20.0, "dB")
RATIO = ParamSpec("ratio", 1.0, 20.0, 4.0, "", log_steps=True)
KNEE_DB = ParamSpec("knee_db", 0.0, 24.0, 6.0, "dB")
MAKEUP_DB = ParamSpec("makeup_db", -24.0, 24.0, 0.0, "dB")


def compressor_gain_db(level_db: Tensor, threshold_db: Tensor, ratio: Tensor, knee_db: Tensor) -> Tensor:
    """The static curve's gain in dB (<= 0), float64, vectorized (the knee needs no loop)."""
    d = level_db - threshold_db
    w = knee_db.to(torch.float64)
    slope = 1.0 / ratio.to(torch.float64) - 1.0
    # A zero-width knee takes the other branches only; the safe width keeps the unused branch
    # (and so its gradient) finite.
    e = d + w / 2.0
    knee = slope * (e * e) / (2.0 * torch.where(w > 0.0, w, torch.ones_like(w)))
    zero = torch.zeros_like(d)
    return torch.where(2.0 * d <= -w, zero, torch.where(2.0 * d >= w, slope * d, knee))


class Compressor(DynamicsBlock):
    type_name: ClassVar[str] = "Compressor"
    falling: ClassVar[bool] = True  # attack while the gain goes down (the level rose)

    def __init__(
        self,
        detector: str = "peak",
        sample_rate: float = 48000.0,
        threshold_db: float = THRESHOLD_DB.default,
        ratio: float = RATIO.default,
        knee_db: float = KNEE_DB.default,
        attack_ms: float = ATTACK_MS.default,
        release_ms: float = RELEASE_MS.default,
        makeup_db: float = MAKEUP_DB.default,
        rms_ms: float = DEFAULT_RMS_MS,
        knobs: Optional[Mapping[str, str]] = None,
        smoothing: str = "gain",
        rms_attack_ms: Optional[float] = None,
    ) -> None:
        values = {"threshold_db": threshold_db, "ratio": ratio, "knee_db": knee_db, "attack_ms": attack_ms,
                  "release_ms": release_ms, "makeup_db": makeup_db}
        super().__init__(detector, rms_ms, sample_rate, values, knobs, smoothing, rms_attack_ms)

    def param_specs(self) -> Sequence[ParamSpec]:
        return (THRESHOLD_DB, RATIO, KNEE_DB, ATTACK_MS, RELEASE_MS, MAKEUP_DB)

    def static_gain_db(self, level_db: Tensor, values: dict[str, Tensor]) -> Tensor:
        return compressor_gain_db(level_db, values["threshold_db"], values["ratio"], values["knee_db"])

    def output_factor(self, values: dict[str, Tensor]) -> Optional[Tensor]:
        return db_to_linear(values["makeup_db"])


def compressor(
    x: Tensor,
    sample_rate: float,
    threshold_db: Tensor,
    ratio: Tensor,
    knee_db: Tensor,
    attack_ms: Tensor,
    release_ms: Tensor,
    makeup_db: Tensor,
    detector: str = "peak",
    rms_ms: float = DEFAULT_RMS_MS,
    smoothing: str = "gain",
    rms_attack_ms: Optional[float] = None,
) -> Tensor:
    """Functional form from a fresh state: x (batch, samples) in, x's dtype out; parameters in
    physical units, broadcastable to (batch, samples)."""
    g, _ = dynamics_gain(
        x,
        sample_rate,
        lambda level_db: compressor_gain_db(level_db, threshold_db, ratio, knee_db),
        attack_ms,
        release_ms,
        Compressor.falling,
        detector,
        rms_ms,
        smoothing,
        rms_attack_ms=rms_attack_ms,
    )
    return (x.to(torch.float64) * g * db_to_linear(makeup_db)).to(x.dtype)
