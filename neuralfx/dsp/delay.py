"""Feedback delay with a fractional, movable delay time. C++ twin: cpp/include/neuralfx/dsp/delay.hpp.

Per sample n, with D(n) = delay_ms(n) * sample_rate / 1000 samples, k = floor(D), f = D - k:

    d[n] = (1 - f) w[n - k] + f w[n - k - 1]     (delay line read, linear interpolation)
    w[n] = x[n] + feedback(n) d[n]               (what enters the delay line)
    y[n] = (1 - mix(n)) x[n] + mix(n) d[n]       (dry_wet, drywet.py)

the same structure as Pedalboard's ``Delay`` (docs/DSP.md has the measured comparison).
Everything runs in float64 and is rounded to float32 once, at the output, on both sides.

Linear interpolation (rather than cubic Lagrange or an allpass) because it is exact at integer
delays, keeps the line bounded (|d| <= max |w|, so |feedback| < 1 keeps the loop stable), has
a simple derivative w.r.t. the delay time (w[n-k-1] - w[n-k]) and needs no state of its own
when the time moves. Its cost: at a half-sample fraction it is a lowpass (cos(pi f / fs)
magnitude, -3 dB at fs/4), applied again on every repeat.

Training without a per-sample loop: every delay-line read lies at least k >= floor(D_min)
samples in the past, so a chunk of up to floor(min D) samples reads only samples that earlier
chunks already wrote. Each chunk is one vectorized gather + multiply-add, and the chunks are
as long as the shortest delay inside them (24000 samples for a fixed 500 ms at 48 kHz; 48 at
the 1 ms minimum). The gradient w.r.t. the delay time flows through f, the interpolation
weight; floor(D) is piecewise constant.
"""

from __future__ import annotations

import bisect
import math
from typing import Any, ClassVar, Collection, Mapping, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from .drywet import MIX, dry_wet
from ..alignment import impulse_response
from ..models.config_checks import check_block_rate, check_float
from .params import ParamBlock, ParamSpec

# Shortest delay: one sample even at the lowest model rate (1 kHz), and the shortest chunk the
# vectorized recursion may need (48 samples at 48 kHz).
MIN_DELAY_MS = 1.0
# Longest delay a file may ask for: the kernel's line holds max_delay_ms of float64 per channel
# (10 s at 768 kHz = 61 MB).
MAX_DELAY_LIMIT_MS = 10000.0
DEFAULT_MAX_DELAY_MS = 2000.0
# echo_delay_ms: an echo is the first peak past MIN_DELAY_MS within ECHO_SHARE of the strongest
# there (a feedback's repeats come later and weaker). It counts when it stands ECHO_CLARITY times
# above the response's median there and ECHO_ISOLATION times above its neighbours (beyond its own
# spread and that of the direct sound). Measured on 12 s captures at 48 kHz (Pedalboard
# devices, the strongest peak past 1 ms): echoes of a Delay alone, after a Distortion and before
# an 800 Hz-3 kHz low-pass stood 386-15808x above the median and 9.97-325x above their
# neighbours; in a Reverb, Chorus, Phaser, Compressor, Distortion (with a low-pass) and a Delay
# at mix 0 the strongest stood at most 375x (the reverb) and 5.9x (the compressor).
ECHO_SHARE = 0.5
ECHO_CLARITY = 200.0
ECHO_ISOLATION = 8.0
# Shorter audio is not measured: 3.4 s of the capture signal through a 300 ms delay showed a
# stronger peak at 75 ms than at 300 ms; from 4.25 s on, 150-700 ms delays read right.
MIN_ECHO_SECONDS = 4.0
# Direct sound weaker than this share of the strongest peak counts as none (a delay at mix 0.98).
DIRECT_SHARE = 0.02
# Below 1 so the loop decays: |d| <= max |w| under linear interpolation.
FEEDBACK = ParamSpec("feedback", 0.0, 0.99, 0.0, "")


def delay_ms_spec(max_delay_ms: float) -> ParamSpec:
    return ParamSpec("delay_ms", MIN_DELAY_MS, float(max_delay_ms), min(500.0, float(max_delay_ms)), "ms")


def line_length(max_delay_ms: float, sample_rate: float) -> int:
    """Samples of delay-line history a block keeps: reads reach back floor(D_max) + 1 samples."""
    return int(math.floor(float(max_delay_ms) * float(sample_rate) / 1000.0)) + 2


def echo_delay_ms(x: np.ndarray, y: np.ndarray, sample_rate: float, max_delay_ms: float) -> Optional[float]:
    """The time of the first echo in the response of the device that made y from x, between
    MIN_DELAY_MS and max_delay_ms, counted from the direct sound's peak (blocks around a delay
    shift both alike); None where no echo stands out. Gradient descent moves a delay time only
    within the sample interval it starts in (docs/DSP.md), so fit starts from this. Linear
    interpolation spreads a peak D = k + f samples late over lags k and k + 1 as 1 - f and f, so
    the taps around a peak give its fraction of a sample (_peak_position).

    Without direct sound in the first MIN_DELAY_MS (a pair with latency, or a delay at mix 1) the
    first peak counts as an echo of lag 0 only when its repeat follows at twice its lag: a device
    a few ms late read as a 4.4 ms delay. A candidate is passed over when a peak at a multiple of
    its lag is stronger (on a 4 s pair a 300 ms delay read as 75 ms off the input's own layout)."""
    rate = float(sample_rate)
    first = math.ceil(MIN_DELAY_MS * rate / 1000.0)
    last = min(math.floor(float(max_delay_ms) * rate / 1000.0), len(x) - 2)
    if last < first or len(x) < MIN_ECHO_SECONDS * rate or not np.any(x) or not np.any(y):
        return None
    # Two negative lags too: the direct peak's smear reaches them (without, its position read
    # 0.026 sample late and every time as much short).
    response = np.abs(impulse_response(x, y, np.arange(-2, last + 2)))
    magnitude = response[2:]
    head, inside = magnitude[:first], magnitude[first : last + 1]
    median = float(np.median(inside))
    direct = int(np.argmax(head))
    # Direct sound: a peak in the first MIN_DELAY_MS that is a sound, not the side lobes of a
    # peak further on (a device 5.3 ms late showed one at 0.85 ms, 8x the median) nor the rising
    # edge of one just past it (48 samples late read as a 1 ms delay or divided by zero).
    wet_only = not (head[direct] > ECHO_CLARITY * median and head[direct] >= DIRECT_SHARE * magnitude.max()
                    and head[direct] >= magnitude[first])
    if wet_only:
        direct = 0
    strongest = float(inside.max())
    peaks = first + np.flatnonzero((inside >= ECHO_SHARE * strongest) & (inside >= magnitude[first - 1 : last])
                                   & (inside >= magnitude[first + 1 : last + 2]))
    start = _peak_position(response, direct + 2) - 2 if not wet_only else 0.0
    for echo in peaks:
        samples = _peak_position(magnitude, int(echo)) - start
        if samples < first:  # inside the direct sound
            continue
        multiples = [int(round(start + n * samples)) for n in range(2, int((last - start) // samples) + 1)]
        family = [float(magnitude[m - 1 : m + 2].max()) for m in multiples]
        if family and max(family) > magnitude[echo]:
            continue  # a sub-multiple of a stronger echo
        if wet_only and not (family and family[0] >= 0.1 * magnitude[echo]):
            return None  # one strong peak after silence: latency, not an echo
        width = max(_extent(magnitude, direct), _extent(magnitude, int(echo)), 2)
        reach = max(first, 4 * width)
        around = np.r_[magnitude[max(echo - reach, 0) : max(echo - width, 0)],
                       magnitude[echo + width + 1 : echo + reach + 1]]
        if not (magnitude[echo] > ECHO_CLARITY * median and around.size
                and magnitude[echo] > ECHO_ISOLATION * around.max()):
            return None
        # A feedback delay's strong peaks fall on multiples of its time, each repeat spread a
        # little more; a reverb's strong reflections (Pedalboard's Reverb: a comb's 25.3 ms, 215x
        # the median and 90x its neighbours) do not.
        repeats = (peaks - start) / samples
        if np.any(np.abs(repeats - np.round(repeats)) * samples > (width + 1) * np.maximum(np.round(repeats), 1)):
            return None
        return float(min(max(samples * 1000.0 / rate, MIN_DELAY_MS), float(max_delay_ms)))
    return None


def _peak_position(magnitude: np.ndarray, peak: int) -> float:
    """A peak's position to a fraction of a sample. Linear interpolation puts 1 - f and f on two
    taps; the whitening smears each tap by a little onto its neighbours, equally on both sides,
    which the outer taps measure and the formula takes out (the larger neighbour alone read
    0.025-0.05 sample off)."""
    def tap(i: int) -> float:
        return float(magnitude[i]) if 0 <= i < len(magnitude) else 0.0

    left, centre, right = tap(peak - 1), tap(peak), tap(peak + 1)
    side, outer, sign = (right, tap(peak + 2), 1) if right >= left else (left, tap(peak - 2), -1)
    near = right + left - side
    denominator = centre + side - near - outer
    if denominator > 0 and 0 <= side - near <= denominator:
        return peak + sign * (side - near) / denominator
    # Not two taps and a smear (the outer tap as high as the peak): the larger neighbour alone.
    return peak + sign * side / (centre + side)


def _extent(magnitude: np.ndarray, peak: int) -> int:
    """Samples after a peak until its response falls below a tenth of it (a low-pass's tail, a
    tape delay's darker repeat)."""
    below = np.flatnonzero(magnitude[peak + 1 :] < 0.1 * magnitude[peak])
    return int(below[0]) if below.size else len(magnitude) - peak - 1


def chunk_bounds(k_min: np.ndarray) -> list[tuple[int, int]]:
    """Chunks [s, e) in which no read reaches a sample of the same chunk: e - s <= k(n) for every
    n in the chunk. Taking L = min k over [s, s + k(s)) guarantees it (L <= k(s), so the chunk
    lies inside the window whose minimum it is)."""
    bounds, start, total = [], 0, len(k_min)
    while start < total:
        length = int(k_min[start : start + int(k_min[start])].min())
        bounds.append((start, min(start + length, total)))
        start += length
    return bounds


def feedback_delay(
    x: Tensor, delay_samples: Tensor, feedback: Tensor, history: Optional[Tensor], length: int
) -> tuple[Tensor, Tensor]:
    """The delay line's output d (before the mix) and the new history, in float64.

    x: (batch, samples); delay_samples, feedback: broadcastable to it, delay_samples >= 1 and
    <= length - 2; history: (batch, length) = w at positions [-length, 0), or None for silence."""
    x = x.to(torch.float64)
    batch, samples = x.shape
    if history is None:
        history = x.new_zeros(batch, length)
    if samples == 0:
        return x, history
    k = torch.floor(delay_samples.detach()).to(torch.long)
    f = delay_samples - k
    # The chunk plan needs the shortest delay at each sample over the whole batch.
    k_min = k.expand(k.shape[0], samples).amin(dim=0).cpu().numpy()
    # Segments of w: the history, then each chunk as it is computed, with their start positions.
    segments, starts = [history], [-history.shape[1]]
    outputs = []
    n = torch.arange(samples, device=x.device)
    for s, e in chunk_bounds(k_min):
        ks = k[:, s:e] if k.shape[1] > 1 else k
        fs = f[:, s:e] if f.shape[1] > 1 else f
        fb = feedback[:, s:e] if feedback.shape[1] > 1 else feedback
        # The segments that hold positions [s - max k - 1, s): everything this chunk reads.
        first = bisect.bisect_right(starts, s - int(ks.max()) - 1) - 1
        base = starts[first]
        window = torch.cat(segments[first:], dim=1) if first < len(segments) - 1 else segments[first]
        near = (n[s:e] - ks - base).expand(batch, e - s)  # index of w[n - k] in the window
        d = (1.0 - fs) * window.gather(1, near) + fs * window.gather(1, near - 1)
        w = x[:, s:e] + fb * d
        segments.append(w)
        starts.append(s)
        outputs.append(d)
    d = torch.cat(outputs, dim=1)
    history = torch.cat(segments, dim=1)[:, -length:]
    return d, history


def delay(
    x: Tensor,
    sample_rate: float,
    delay_ms: Tensor,
    feedback: Tensor,
    mix: Tensor,
    max_delay_ms: float = DEFAULT_MAX_DELAY_MS,
) -> Tensor:
    """Functional form from silence: x (batch, samples), parameters broadcastable to it."""
    values = {"delay_ms": delay_ms, "feedback": feedback, "mix": mix}
    # Scalars become (1, 1); (batch, samples) tensors are per-sample settings.
    values = {name: torch.as_tensor(v, dtype=torch.float64).reshape(-1, 1) if torch.as_tensor(v).numel() == 1
              else v.to(torch.float64) for name, v in values.items()}
    y, _ = _delay64(x, values, None, float(sample_rate), line_length(max_delay_ms, sample_rate))
    return y.to(x.dtype)


def _delay64(x: Tensor, values: dict[str, Tensor], history: Optional[Tensor], rate: float, length: int) -> tuple[Tensor, Tensor]:
    # Written in the kernel's operation order: (delay_ms * rate) / 1000.
    delay_samples = values["delay_ms"] * rate / 1000.0
    d, history = feedback_delay(x, delay_samples, values["feedback"], history, length)
    return dry_wet(x.to(torch.float64), d, values["mix"]), history


class Delay(ParamBlock):
    """Config: sample_rate, max_delay_ms (sizes the line); weights delay_ms, feedback, mix."""

    type_name: ClassVar[str] = "Delay"
    config_entries: ClassVar[tuple[str, ...]] = ("max_delay_ms", "sample_rate", "knobs")

    def __init__(
        self,
        sample_rate: float = 48000.0,
        max_delay_ms: float = DEFAULT_MAX_DELAY_MS,
        delay_ms: Optional[float] = None,
        feedback: float = FEEDBACK.default,
        mix: float = MIX.default,
        knobs: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.sample_rate = check_block_rate("Delay", sample_rate)
        # "100" was read as 100 here and refused by the C++ reader.
        check_float("Delay.max_delay_ms (ms)", max_delay_ms, MIN_DELAY_MS, MAX_DELAY_LIMIT_MS)
        self.max_delay_ms = float(max_delay_ms)
        spec = delay_ms_spec(self.max_delay_ms)
        super().__init__(knobs, {"delay_ms": spec.default if delay_ms is None else delay_ms, "feedback": feedback, "mix": mix})

    def param_specs(self) -> Sequence[ParamSpec]:
        return (delay_ms_spec(self.max_delay_ms), FEEDBACK, MIX)

    def config(self) -> dict[str, Any]:
        return {"sample_rate": self.sample_rate, "max_delay_ms": self.max_delay_ms, **self.binding_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Delay":
        return cls(
            sample_rate=config["sample_rate"],
            max_delay_ms=config.get("max_delay_ms", DEFAULT_MAX_DELAY_MS),
            knobs=config.get("knobs"),
        )

    def _process(self, x: Tensor, values: dict[str, Tensor], state: Any) -> tuple[Tensor, Any]:
        length = line_length(self.max_delay_ms, self.sample_rate)
        y, history = _delay64(x, values, state, self.sample_rate, length)
        return y.to(x.dtype), history


# Why echo_delay_ms found no time, for the notes of fit and train.
UNMEASURED_REASONS = ("no echo stood out after a direct sound in the first 1 ms; latency before the delay must be "
                      "removed first, a delay almost fully wet with little feedback cannot be told from latency, and "
                      "at least 4 s of audio is read")

# The largest step of a measured Delay time, in samples: descent refines it within the sample
# interval the measurement found (held at a measurement 0.025 sample off, Pedalboard's Delay fit
# to ESR 8.8e-5; descended over fit's 300 steps, 3e-12, over 150, 0.0015 sample off and 5.8e-7).
DELAY_REFINE_SAMPLES = 0.01


def start_at_measured_echo(model: torch.nn.Module, pairs: Sequence[tuple[np.ndarray, np.ndarray]],
                           fitted: Optional[Collection[str]] = None) -> dict[str, Optional[float]]:
    """Starts the fitted time of the model's one Delay at the echo measured in the (input,
    target) pairs (echo_delay_ms; descent alone rarely finds a time): {its weight name: ms, or
    None where no echo stood out or the pairs' echoes lie more than a sample apart (a time that
    changes between them belongs on a knob)}. {} when the model has several Delays (their
    echoes cannot be told apart: a held 100 ms one's was given to a fitted one), none, or its
    time is not fitted: on a knob, or not in `fitted` (weight names; None: every one not on a knob).
    A start already within a sample of the measurement is kept."""
    delays = [(f"{prefix}.delay_ms", m) for prefix, m in model.named_modules() if isinstance(m, Delay)]
    if len(delays) != 1:
        return {}
    name, block = delays[0]
    if "delay_ms" in block.knob_bindings or (fitted is not None and name not in fitted):
        return {}
    found = [ms for ms in (echo_delay_ms(x, y, block.sample_rate, block.max_delay_ms) for x, y in pairs)
             if ms is not None]
    samples_per_ms = block.sample_rate / 1000.0
    if not found or (max(found) - min(found)) * samples_per_ms > 1.0:
        return {name: None}
    ms = float(np.median(found))
    if abs(float(block.delay_ms.detach()) - ms) * samples_per_ms > 1.0:
        with torch.no_grad():
            block.delay_ms.fill_(ms)
    return {name: ms}


def refine_rates(model: torch.nn.Module, measured: Mapping[str, Optional[float]]) -> dict[int, float]:
    """id(weight) -> the learning rate of each measured Delay time: DELAY_REFINE_SAMPLES samples a
    step (delay_ms steps linearly, in ms), in place of a step of its whole range."""
    rates = {}
    for name, ms in measured.items():
        if ms is not None:
            block = model.get_submodule(name.rpartition(".")[0])
            rates[id(block.delay_ms)] = DELAY_REFINE_SAMPLES * 1000.0 / block.sample_rate
    return rates
