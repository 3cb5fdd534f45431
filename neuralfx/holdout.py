"""Which audio of a capture is trained on and which is held out to validate on.

A capture is cut into spans of about `TrainConfig.validation_span_seconds` and the last
`fraction` of each is held out. Holding out only the capture's end validated, for the standard
capture signal, on its strummed chords alone: never the sweeps or the noise, where a review
measured an LSTM 5-11x worse, so early stopping kept weights by the chords. A fixed number of
spans fell at fixed places of the signal's fixed layout instead (eight spans of 180 s held out
only its quietest noise, and 58 % of the held-out energy was one low sweep). Spans of 1 s hold
out audio from every part of the signal (each sweep, noise colour and level, the notes and the
chords) at 60, 120, 180 and 300 s, each section's share of the held-out energy 0.73-1.03 times
its share of the whole signal (2 s spans missed a noise level at 60 s).

The cost: a training segment lies inside one trained stretch, so audio near a stretch's ends is
a loss target less often than the rest. A review measured, at 48 kHz with the default segment
(9216 samples with its warm-up), 2.5 % of the trained audio never a loss target (the warm-up
after each held-out piece) and 22.6 % at under half the average weight, spread evenly over the
signal (with the end alone held out: 0 % and 0.4 %).

A model file records what was held out (`metadata.validation`: the fraction, the span and the
context in samples), so that `neuralfx report` scores the same audio whatever later versions
choose."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from .models.config_checks import check_float, check_int

# Held-out samples a capture needs at the least: fewer give an ESR too noisy to stop on.
MIN_VALIDATION_SAMPLES = 2048
DEFAULT_FRACTION = 0.15  # TrainConfig.validation_fraction's default
# Below it nothing may be held out at all (1 - 1e-17 is 1.0 in floating point).
MIN_FRACTION = 0.001
# Samples of input run before each held-out piece so that the model's state has settled when
# scoring starts: the kernel's output there is what it gives mid-stream.
VALIDATION_CONTEXT = 4096


@dataclass(frozen=True)
class Holdout:
    fraction: float  # of each span, held out; 1.0 holds out everything (scoring a whole capture)
    span: Optional[int] = None  # samples per span (spread evenly over the capture); None: one span, the whole capture
    context: int = VALIDATION_CONTEXT
    sample_rate: Optional[float] = None  # for describe()

    @classmethod
    def of_model(cls, metadata: dict[str, Any], sample_rate: float) -> Holdout:
        """What a model file's metadata says training held out. Models trained before the
        record held out the last validation_fraction (config) of each capture."""
        record = metadata.get("validation")
        if record is None:
            config = metadata.get("config") if isinstance(metadata.get("config"), dict) else {}
            value = config.get("validation_fraction", DEFAULT_FRACTION)
            try:
                fraction = check_float("validation_fraction", value, MIN_FRACTION, 1.0)
                if fraction == 1:
                    raise ValueError("validation_fraction must be below 1: training keeps some audio to train on")
            except ValueError as e:
                raise ValueError(f"metadata.config.validation_fraction is malformed ({value!r}): {e}") from None
            return cls(fraction, sample_rate=sample_rate)
        try:
            fraction = check_float("fraction", record["fraction"], MIN_FRACTION, 1.0)
            span = record["span_samples"]
            span = None if span is None else check_int("span_samples (or null)", span, 1, sys.maxsize)
            context = check_int("context_samples", record["context_samples"], 0, sys.maxsize)
        except (KeyError, TypeError, ValueError) as e:
            reason = f"{e} is missing" if isinstance(e, KeyError) else str(e)
            raise ValueError(f"metadata.validation is malformed ({record!r}): {reason}; expected fraction, "
                             "span_samples and context_samples") from None
        return cls(fraction, span, context, sample_rate)

    def to_json(self) -> dict[str, Any]:
        return {"fraction": self.fraction, "span_samples": self.span, "context_samples": self.context}

    def spans(self, samples: int) -> int:
        return 1 if self.span is None else max(1, samples // self.span)

    def pieces(self, samples: int) -> list[tuple[int, int, int]]:
        """(span start, held-out start, span end) of each span of a capture of `samples`."""
        count = self.spans(samples)
        out = []
        for i in range(count):
            lo, hi = i * samples // count, (i + 1) * samples // count
            out.append((lo, lo + trained_part(hi - lo, self.fraction), hi))
        return out

    def trained(self, samples: int) -> list[tuple[int, int]]:
        """(start, end) of each stretch trained on."""
        return [(lo, cut) for lo, cut, _ in self.pieces(samples)]

    def held_out(self, samples: int) -> list[tuple[int, int]]:
        """(start, end) of each stretch validated on."""
        return [(cut, hi) for _, cut, hi in self.pieces(samples) if hi > cut]

    def held_out_audio(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([x[lo:hi] for lo, hi in self.held_out(len(x))])

    def describe(self) -> str:
        """Which audio is held out, for messages: "the last 15%", "the last 15% of every 2 s"."""
        share = f"the last {self.fraction * 100:.3g}%"
        if self.span is None:
            return share
        every = f"{self.span / self.sample_rate:g} s" if self.sample_rate else f"{self.span} samples"
        return f"{share} of every {every}"

    def long_enough(self, samples: int, need: int) -> bool:
        """Whether every span trains on `need` samples and MIN_VALIDATION_SAMPLES are held out in all."""
        pieces = self.pieces(samples)
        return (all(cut - lo >= need for lo, cut, _ in pieces)
                and sum(hi - cut for _, cut, hi in pieces) >= MIN_VALIDATION_SAMPLES)

    def shortest(self, samples: int, need: int) -> Optional[int]:
        """None when `samples` are long enough (long_enough); else the fewest samples from
        `samples` up that are. Spans must train on `need` samples each (training_span)."""
        if self.long_enough(samples, need):
            return None
        # Within the lengths that share one span count both shares grow with the length (a span's
        # held-out part, L - trained_part(L), never shrinks as L grows), so the first length
        # that passes is found by halving. One more span shortens them all, so each count from the
        # one `samples` has up is searched in turn; from two spans on, every span trains on `need`
        # and the audio held out grows with the count, so the search ends.
        count = self.spans(samples)
        while True:
            if self.span is None:
                lo, hi = samples, None
            elif count == 1:
                lo, hi = samples, 2 * self.span
            else:
                # Spans only get shorter as the count grows (toward self.span): past a count whose
                # longest span cannot train on `need`, or whose shortest holds nothing out, no
                # length passes.
                longest = (count + 1) * self.span // count
                if trained_part(longest, self.fraction) < need or trained_part(self.span, self.fraction) == self.span:
                    raise ValueError(f"spans of {self.span} samples do not both train on {need} samples and hold "
                                     "some out: make them with training_span")
                lo, hi = max(samples, count * self.span), (count + 1) * self.span
            found = self._first_long_enough(lo, hi, need)
            if found is not None:
                return found
            count += 1

    def _first_long_enough(self, lo: int, hi: Optional[int], need: int) -> Optional[int]:
        """The first length in [lo, hi) (hi None: no end) that is long enough, where being long
        enough is monotone over the range; None if none is."""
        if hi is None:
            last = max(lo, 1)
            while not self.long_enough(last, need):
                last *= 2
        elif hi > lo and self.long_enough(hi - 1, need):
            last = hi - 1
        else:
            return None
        while lo < last:
            mid = (lo + last) // 2
            if self.long_enough(mid, need):
                last = mid
            else:
                lo = mid + 1
        return last


def training_span(span_seconds: Optional[float], sample_rate: float, fraction: float, need: int) -> Optional[int]:
    """Samples per span for `span_seconds` at `sample_rate`, lengthened where a span's trained
    part would not hold `need` samples (a training segment and its warm-up)."""
    if span_seconds is None:
        return None
    fits = math.ceil(need / (1 - fraction))
    while trained_part(fits, fraction) < need:  # float error included
        fits += 1
    return max(round(span_seconds * sample_rate), fits)


def trained_part(span: int, fraction: float) -> int:
    """Samples of a span of `span` samples trained on: the rest, its last `fraction`, is held out."""
    return int(span * (1 - fraction))
