"""Noise gate as a downward expander. C++ twin: cpp/include/neuralfx/dsp/noise_gate.hpp.

Static curve (Giannoulis, Massberg and Reiss, JAES 2012, the expander form) as a gain in dB
for the level x (dB), threshold T, expansion ratio R and range (the deepest attenuation):

    max((R - 1) min(x - T, 0), range_db)

Above the threshold the gain is 0 dB; below it every dB the level falls takes R - 1 more dB
off, down to range_db (R = 1: no gating; large R: a hard gate). This is the same curve as
JUCE's / Pedalboard's NoiseGate (gain = (level/T)^(R-1) below T) plus the range floor. The
attack time applies while the gate opens (gain rising), the release while it closes.
Detector, ballistics and numerics: dynamics.py. No hold stage.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, Mapping, Optional, Sequence

import torch
from torch import Tensor

from .dynamics import ATTACK_MS, DEFAULT_RMS_MS, RELEASE_MS, DynamicsBlock, dynamics_gain
from .params import ParamSpec

THRESHOLD_DB = ParamSpec("threshold_db", -100.0, 0.0, -60.0, "dB")
RATIO = ParamSpec("ratio", 1.0, 50.0, 10.0, "", log_steps=True)
RANGE_DB = ParamSpec("range_db", -100.0, 0.0, -80.0, "dB")
GATE_ATTACK_MS = replace(ATTACK_MS, default=1.0)


def gate_gain_db(level_db: Tensor, threshold_db: Tensor, ratio: Tensor, range_db: Tensor) -> Tensor:
    """The static curve's gain in dB, in [range_db, 0], float64."""
    below = torch.clamp_max(level_db - threshold_db, 0.0)
    return torch.maximum((ratio.to(torch.float64) - 1.0) * below, range_db.to(torch.float64))


class NoiseGate(DynamicsBlock):
    type_name: ClassVar[str] = "NoiseGate"
    falling: ClassVar[bool] = False  # attack while the gain goes up (the gate opens)

    def __init__(
        self,
        detector: str = "rms",
        sample_rate: float = 48000.0,
        threshold_db: float = THRESHOLD_DB.default,
        ratio: float = RATIO.default,
        range_db: float = RANGE_DB.default,
        attack_ms: float = GATE_ATTACK_MS.default,
        release_ms: float = RELEASE_MS.default,
        rms_ms: float = DEFAULT_RMS_MS,
        knobs: Optional[Mapping[str, str]] = None,
        smoothing: str = "gain",
        rms_attack_ms: Optional[float] = None,
    ) -> None:
        values = {"threshold_db": threshold_db, "ratio": ratio, "range_db": range_db, "attack_ms": attack_ms,
                  "release_ms": release_ms}
        super().__init__(detector, rms_ms, sample_rate, values, knobs, smoothing, rms_attack_ms)

    def param_specs(self) -> Sequence[ParamSpec]:
        return (THRESHOLD_DB, RATIO, RANGE_DB, GATE_ATTACK_MS, RELEASE_MS)

    def static_gain_db(self, level_db: Tensor, values: dict[str, Tensor]) -> Tensor:
        return gate_gain_db(level_db, values["threshold_db"], values["ratio"], values["range_db"])


def noise_gate(
    x: Tensor,
    sample_rate: float,
    threshold_db: Tensor,
    ratio: Tensor,
    range_db: Tensor,
    attack_ms: Tensor,
    release_ms: Tensor,
    detector: str = "rms",
    rms_ms: float = DEFAULT_RMS_MS,
    smoothing: str = "gain",
    rms_attack_ms: Optional[float] = None,
) -> Tensor:
    """Functional form from a fresh state: x (batch, samples) in, x's dtype out; parameters in
    physical units, broadcastable to (batch, samples)."""
    g, _ = dynamics_gain(
        x,
        sample_rate,
        lambda level_db: gate_gain_db(level_db, threshold_db, ratio, range_db),
        attack_ms,
        release_ms,
        NoiseGate.falling,
        detector,
        rms_ms,
        smoothing,
        rms_attack_ms=rms_attack_ms,
    )
    return (x.to(torch.float64) * g).to(x.dtype)
