"""Named user parameters ("knobs") and the smoothing law shared with the C++ kernel.

The kernel (cpp/include/neuralfx/knobs.hpp) smooths every knob move with the same one-pole
filter, per sample, on the knob's normalized (0..1) value; `smooth` reproduces it exactly so
that torch and C++ agree when knobs change between blocks."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

# Seconds; the same constant is kKnobSmoothingSeconds in knobs.hpp.
KNOB_SMOOTHING_SECONDS = 0.01


@dataclass(frozen=True)
class Ranged:
    """A named value with a declared range and default in its own units: a model's knob or a
    DSP block's parameter."""

    name: str
    min: float
    max: float
    default: float
    unit: str = ""

    kind: ClassVar[str] = "value"

    def check(self, value: float) -> float:
        """The value if it lies in range, else a ValueError naming it and its range."""
        value = float(value)
        if not (self.min <= value <= self.max):  # also false for NaN
            raise ValueError(f"{self.describe()}: {value} is outside the range")
        return value

    def describe(self) -> str:
        return f"{self.kind} '{self.name}' [{self.min:g}, {self.max:g}] {self.unit}".rstrip()


@dataclass(frozen=True)
class Knob(Ranged):
    kind: ClassVar[str] = "knob"

    def normalize(self, value: float) -> float:
        """In float32, as KnobSpec::normalize computes it: a double division rounded to float
        can differ by one ulp, which a long delay time turns into an audible interpolation error."""
        value, lo, hi = np.float32(value), np.float32(self.min), np.float32(self.max)
        span = hi - lo
        return float(np.clip((value - lo) / span, np.float32(0.0), np.float32(1.0))) if span > 0 else 0.0


def smoothing_coefficient(sample_rate: float) -> float:
    return 1.0 - math.exp(-1.0 / (KNOB_SMOOTHING_SECONDS * sample_rate))


def smooth(targets: np.ndarray, start: np.ndarray, sample_rate: float) -> np.ndarray:
    """Per-sample smoothed knob values, as the kernel computes them.

    targets: (knobs, samples) normalized target at each sample (a step where a knob moved);
    start: (knobs,) smoother state before the first sample. The smoother runs in float64 and
    its rows are float32, as in C++ (KnobBank::advance, which says why: in float32 it stopped
    short of its target)."""
    targets = np.asarray(targets, dtype=np.float32)
    out = np.empty_like(targets)
    a = smoothing_coefficient(sample_rate)
    value = np.asarray(start, dtype=np.float64).copy()
    for i in range(targets.shape[1]):
        value = value + a * (targets[:, i].astype(np.float64) - value)
        out[:, i] = value
    return out
