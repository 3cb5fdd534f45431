"""What the Compressor and the NoiseGate share: level detector, attack/release ballistics and
the block plumbing. C++ twin: cpp/include/neuralfx/dsp/dynamics.hpp.

The structure is the feed-forward design of Giannoulis, Massberg and Reiss, "Digital Dynamic
Range Compressor Design - A Tutorial and Analysis" (JAES 60(6), 2012). Where the ballistics
act is the block's ``smoothing`` (configuration, not trained):

- ``gain`` (the default): the static curve reads the instantaneous level and the linear gain
  it asks for is smoothed, as in torchcomp (Yu et al., "Differentiable all-pole filters for
  time-varying audio systems", DAFx 2024).
- ``level``: the detector's amplitude is smoothed and the static curve reads that, the gain
  following without smoothing of its own. This is JUCE's dsp::Compressor and so Pedalboard's
  Compressor (peak detector, hard knee), and with the RMS detector rising at once
  (rms_attack_ms 0) JUCE's dsp::NoiseGate, Pedalboard's NoiseGate: with each time T of theirs
  given as T / (2 pi) here (their coefficient is exp(-2 pi 1000 / (T fs))), and the gate's
  fixed 50 ms RMS release as rms_ms, the blocks are theirs to float rounding
  (tests/test_dsp_reference.py).

Per sample n, in float64 on both sides:

1. the detector's amplitude: ``peak``: |x|; ``rms``: sqrt(max(m, 1e-20)) of the mean square
   m[n] = c x^2 - (c - 1) m[n-1], c the rms_attack_ms coefficient while x^2 > m[n-1], the
   rms_ms one otherwise (the same by default). Its level in dB is 20 log10(max(a, 1e-10)); the
   floor (-200 dB) keeps silence finite, with zero gradient below it.
2. ``gain``: the static curve's gain in dB (compressor.py, noise_gate.py) for the amplitude's
   level, as a linear factor f = 10^(gain_db / 20), smoothed: g[n] = c f[n] - (c - 1) g[n-1],
   with c the attack coefficient while the gain moves in the attack direction (down for a
   compressor, up for a gate) and the release coefficient otherwise; g starts at rest: 1 for a
   compressor (its gain on silence), 0 for a gate (closed; the model's settle on silence lifts
   it to the range floor within the attack time). From 1 a gate started open, and with a 500 ms
   release still let hiss through at -3 dB after the 8192-sample settle at 48 kHz.
   ``level``: the amplitude smoothed the same way, attack while it rises, from 0 (silence);
   the gain is the static curve's for the smoothed amplitude's level.
3. y = x g (* make-up factor), rounded to float32 once.

Time constants: c = 1 - exp(-1000 / (ms fs)), i.e. ms is the one-pole filter's time constant
(63 % of a step), the law the knob smoother uses too.

Training: the branch decision (attack or release) is made by a compiled loop without
gradient (numba, as torchcomp does); given those decisions the smoother is a time-varying
one-pole filter, computed and differentiated by torchlpc.sample_wise_lpc, the same exact
recursion the kernel runs. So there is no approximation: the gradient treats the branch
decisions as constants (they are piecewise constant in every parameter), like torchcomp's.
torchcomp's own ``compressor_core`` is not used because it takes one attack and one release
coefficient per signal, while a knob-bound attack or release changes per sample; docs/DSP.md
records the comparison with it.
"""

from __future__ import annotations

import math
from typing import Any, Callable, ClassVar, Mapping, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from .gain import db_to_linear
from ..models.config_checks import check_block_rate, check_float
from .params import ParamBlock, ParamSpec

DETECTORS = ("peak", "rms")
SMOOTHINGS = ("gain", "level")
# The detector's level floor: silence reads as -200 dB (below every threshold range), finite.
PEAK_FLOOR = 1e-10
RMS_FLOOR = PEAK_FLOOR * PEAK_FLOOR
# The RMS detector's averaging time constants are configuration (not trained): rms_ms while the
# mean square falls, rms_attack_ms (default: rms_ms, a plain average) while it rises; 0 follows
# a rise at once (JUCE's NoiseGate).
RMS_MS_RANGE = (0.1, 1000.0)
RMS_ATTACK_MS_RANGE = (0.0, 1000.0)
DEFAULT_RMS_MS = 10.0
ATTACK_MS = ParamSpec("attack_ms", 0.1, 500.0, 5.0, "ms", log_steps=True)
RELEASE_MS = ParamSpec("release_ms", 1.0, 5000.0, 100.0, "ms", log_steps=True)


def time_coefficient(ms: Tensor, sample_rate: float) -> Tensor:
    """One-pole coefficient for a time constant in ms (float64; twin: time_coefficient in C++)."""
    return 1.0 - torch.exp(-1000.0 / (ms.to(torch.float64) * float(sample_rate)))


def constant_coefficient(ms: float, sample_rate: float) -> float:
    """time_coefficient of a configured time, with libm in double as the kernel computes it; 0 ms
    gives 1 (the C++ formula's limit: the one-pole follows at once)."""
    return 1.0 if ms == 0.0 else 1.0 - math.exp(-1000.0 / (float(ms) * float(sample_rate)))


def _one_pole(target: Tensor, coefficient: Tensor, initial: Tensor) -> Tensor:
    """y[n] = c[n] target[n] - (c[n] - 1) y[n-1], exactly, differentiable (torchlpc)."""
    try:  # imported here: torchlpc pulls in numba, which is slow to import and optional elsewhere
        from torchlpc import sample_wise_lpc
    except ImportError as e:
        raise ImportError(
            "neuralfx's dynamics blocks need torchlpc: pip install --no-build-isolation torchlpc==0.7.2"
        ) from e
    batch, samples = target.shape
    c = coefficient.expand(batch, samples)
    return sample_wise_lpc((c * target).contiguous(), (c - 1.0).unsqueeze(-1).contiguous(), initial.unsqueeze(-1))


def detect(x: Tensor, detector: str, rms_coefficients: tuple[float, float],
           rms_state: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    """The detector's level per sample as a linear amplitude (float64: |x|, or the root of the
    mean square) and the RMS detector's mean square to continue from (zeros for peak).
    rms_coefficients: the mean square's (attack, release) one-pole coefficients."""
    x = x.to(torch.float64)
    state = x.new_zeros(x.shape[0]) if rms_state is None else rms_state
    if detector == "peak":
        return x.abs(), state
    if detector == "rms":
        attack, release = (x.new_tensor(c).view(1, 1) for c in rms_coefficients)
        m, last = ballistics(x * x, attack, release, state, falling=False)
        # The floor before the root: its slope at 0 is infinite, below the floor the gradient is 0.
        return torch.sqrt(m.clamp_min(RMS_FLOOR)), last
    raise ValueError(f"detector '{detector}' is not one of {', '.join(DETECTORS)}")


def level_db(amplitude: Tensor) -> Tensor:
    """A detector's amplitude in dB, floored at -200 dB."""
    return 20.0 * torch.log10(amplitude.clamp_min(PEAK_FLOOR))


_attack_mask_kernel: Optional[Callable] = None


def _attack_mask(target: np.ndarray, attack: np.ndarray, release: np.ndarray, initial: np.ndarray, falling: bool) -> np.ndarray:
    """Where the smoother uses the attack coefficient: the sequential branch decisions."""
    global _attack_mask_kernel
    if _attack_mask_kernel is None:
        from numba import njit  # a torchlpc dependency; compiled on first use

        @njit(cache=False)
        def kernel(f, at, rt, g0, falling):  # pragma: no cover - compiled
            batch, samples = f.shape
            mask = np.zeros((batch, samples), np.bool_)
            for b in range(batch):
                g = g0[b]
                for n in range(samples):
                    attack_now = f[b, n] < g if falling else f[b, n] > g
                    c = at[b, n] if attack_now else rt[b, n]
                    mask[b, n] = attack_now
                    g = c * f[b, n] - (c - 1.0) * g
            return mask

        _attack_mask_kernel = kernel
    return _attack_mask_kernel(target, attack, release, initial, falling)


def ballistics(
    target: Tensor, attack: Tensor, release: Tensor, state: Tensor, falling: bool
) -> tuple[Tensor, Tensor]:
    """Attack/release smoothing of target (batch, samples), float64, and its last value.

    attack/release: one-pole coefficients broadcastable to (batch, samples); falling: the
    attack branch is taken where the target is below the current value (a compressor's gain)
    rather than above it (a gate's gain, any level). state: (batch,) value before the first
    sample."""
    batch, samples = target.shape
    at, rt = attack.expand(batch, samples), release.expand(batch, samples)
    mask = _attack_mask(
        target.detach().cpu().numpy(),
        at.detach().cpu().numpy(),
        rt.detach().cpu().numpy(),
        state.detach().cpu().numpy(),
        falling,
    )
    c = torch.where(torch.from_numpy(mask).to(target.device), at, rt)
    y = _one_pole(target, c, state)
    return y, y[:, -1]


def dynamics_gain(
    x: Tensor,
    sample_rate: float,
    static_gain_db: Callable[[Tensor], Tensor],
    attack_ms: Tensor,
    release_ms: Tensor,
    falling: bool,
    detector: str = "peak",
    rms_ms: float = DEFAULT_RMS_MS,
    smoothing: str = "gain",
    state: Optional[dict] = None,
    rms_attack_ms: Optional[float] = None,
) -> tuple[Tensor, dict]:
    """The linear gain (batch, samples) in float64 for x (batch, samples), and the state to
    continue from. static_gain_db maps a level (dB) to the target gain (dB); falling: the
    gain's attack direction (smoothing "gain" only); rms_attack_ms None: rms_ms."""
    state = state or {}
    rms_attack_ms = rms_ms if rms_attack_ms is None else rms_attack_ms
    rms_coefficients = (constant_coefficient(rms_attack_ms, sample_rate), constant_coefficient(rms_ms, sample_rate))
    amplitude, rms_state = detect(x, detector, rms_coefficients, state.get("rms"))
    attack = time_coefficient(attack_ms, sample_rate)
    release = time_coefficient(release_ms, sample_rate)
    batch = x.shape[0]
    smoothed = state.get("smoothed")
    if smoothing == "gain":
        target = db_to_linear(static_gain_db(level_db(amplitude)))
        start = (amplitude.new_ones(batch) if falling else amplitude.new_zeros(batch)) if smoothed is None else smoothed
        g, smoothed = ballistics(target, attack, release, start, falling)
    elif smoothing == "level":
        start = amplitude.new_zeros(batch) if smoothed is None else smoothed
        envelope, smoothed = ballistics(amplitude, attack, release, start, falling=False)
        g = db_to_linear(static_gain_db(level_db(envelope)))
    else:
        raise ValueError(f"smoothing '{smoothing}' is not one of {', '.join(SMOOTHINGS)}")
    return g, {"rms": rms_state, "smoothed": smoothed}


class DynamicsBlock(ParamBlock):
    """Base of Compressor and NoiseGate: config (detector, rms_ms, rms_attack_ms, smoothing,
    sample_rate) and forward.

    Subclasses give ``static_gain_db(level_db, values)``, ``falling`` (the attack direction)
    and optionally ``output_factor(values)`` (make-up gain)."""

    falling: ClassVar[bool] = True
    config_entries: ClassVar[tuple[str, ...]] = ("detector", "rms_ms", "rms_attack_ms", "smoothing", "sample_rate", "knobs")

    def __init__(
        self,
        detector: str,
        rms_ms: float,
        sample_rate: float,
        values: Mapping[str, float],
        knobs: Optional[Mapping[str, str]] = None,
        smoothing: str = "gain",
        rms_attack_ms: Optional[float] = None,
    ) -> None:
        name = type(self).__name__
        if detector not in DETECTORS:
            raise ValueError(f"{name}.detector: '{detector}' is not one of {', '.join(DETECTORS)}")
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"{name}.smoothing: '{smoothing}' is not one of {', '.join(SMOOTHINGS)}")
        rms_attack_ms = rms_ms if rms_attack_ms is None else rms_attack_ms
        for key, value, (lo, hi) in (("rms_ms", rms_ms, RMS_MS_RANGE), ("rms_attack_ms", rms_attack_ms, RMS_ATTACK_MS_RANGE)):
            check_float(f"{name}.{key} (ms)", value, lo, hi)  # "10" was called outside [0.1, 1000]
        self.sample_rate = check_block_rate(name, sample_rate)
        self.detector = detector
        self.rms_ms = float(rms_ms)
        self.rms_attack_ms = float(rms_attack_ms)
        self.smoothing = smoothing
        super().__init__(knobs, values)

    def config(self) -> dict[str, Any]:
        return {"detector": self.detector, "rms_ms": self.rms_ms, "rms_attack_ms": self.rms_attack_ms,
                "smoothing": self.smoothing, "sample_rate": self.sample_rate, **self.binding_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "DynamicsBlock":
        # Any of these may be left out (a fit template, a file written before smoothing and
        # rms_attack_ms existed): the block's defaults apply.
        optional = {k: config[k] for k in ("detector", "rms_ms", "rms_attack_ms", "smoothing") if k in config}
        return cls(sample_rate=config["sample_rate"], knobs=config.get("knobs"), **optional)

    def format_version(self) -> int:
        # Version-1 readers ignore smoothing and rms_attack_ms: gain smoothing, a plain average.
        plain = self.smoothing == "gain" and (self.detector == "peak" or self.rms_attack_ms == self.rms_ms)
        return 1 if plain else 2

    # ---- to override ----
    def static_gain_db(self, level_db: Tensor, values: dict[str, Tensor]) -> Tensor:
        raise NotImplementedError

    def output_factor(self, values: dict[str, Tensor]) -> Optional[Tensor]:
        return None

    def _process(self, x: Tensor, values: dict[str, Tensor], state: Any) -> tuple[Tensor, Any]:
        g, state = dynamics_gain(
            x,
            self.sample_rate,
            lambda level_db: self.static_gain_db(level_db, values),
            values["attack_ms"],
            values["release_ms"],
            self.falling,
            self.detector,
            self.rms_ms,
            self.smoothing,
            state,
            self.rms_attack_ms,
        )
        y = x.to(torch.float64) * g
        factor = self.output_factor(values)
        if factor is not None:
            y = y * factor
        return y.to(x.dtype), state

