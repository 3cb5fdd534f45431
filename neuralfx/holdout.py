"""Which audio of a capture is trained on and which is held out to validate on.

A capture is cut into `spans` equal spans and the last `fraction` of each is held out. With one
span the held-out audio is the capture's end, which for the standard capture signal is always its
strummed chords: validation never heard the sweeps or the noise, where a review measured an LSTM
5-11x worse than on the chords, and early stopping kept weights by the chords alone. Eight spans of
the standard signal hold out audio from the sweeps, the noise, the notes and the chords."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Optional

import numpy as np

# Held-out samples a capture needs at the least: fewer give an ESR too noisy to stop on.
MIN_VALIDATION_SAMPLES = 2048
DEFAULT_FRACTION = 0.15  # TrainConfig.validation_fraction's default


@dataclass(frozen=True)
class Holdout:
    fraction: float  # of each span, held out; 1.0 holds out everything (scoring a whole capture)
    spans: int = 1

    @classmethod
    def of_model(cls, config: dict) -> Holdout:
        """The held-out audio a model file's metadata config says training validated on (no spans
        recorded: models trained before them held out each capture's end)."""
        return cls(float(config.get("validation_fraction", DEFAULT_FRACTION)), int(config.get("validation_spans", 1)))

    def pieces(self, samples: int) -> list[tuple[int, int, int]]:
        """(span start, held-out start, span end) of each span of a capture of `samples`."""
        out = []
        for i in range(self.spans):
            lo, hi = i * samples // self.spans, (i + 1) * samples // self.spans
            out.append((lo, lo + int((hi - lo) * (1 - self.fraction)), hi))
        return out

    def trained(self, samples: int) -> list[tuple[int, int]]:
        """(start, end) of each stretch trained on."""
        return [(lo, cut) for lo, cut, _ in self.pieces(samples)]

    def held_out(self, samples: int) -> list[tuple[int, int]]:
        """(start, end) of each stretch validated on."""
        return [(cut, hi) for _, cut, hi in self.pieces(samples) if hi > cut]

    def describe(self) -> str:
        """Which audio is held out, for messages: "the last 15%" or "the last 15% of each of 8 spans"."""
        return f"the last {self.fraction:.0%}" + (f" of each of {self.spans} spans" if self.spans > 1 else "")

    def held_out_audio(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([x[lo:hi] for lo, hi in self.held_out(len(x))])

    def long_enough(self, samples: int, need: int) -> bool:
        """Whether every span trains on `need` samples and MIN_VALIDATION_SAMPLES are held out in all."""
        pieces = self.pieces(samples)
        return (all(cut - lo >= need for lo, cut, _ in pieces)
                and sum(hi - cut for _, cut, hi in pieces) >= MIN_VALIDATION_SAMPLES)

    def shortest(self, samples: int, need: int) -> Optional[int]:
        """None when `samples` are long enough (long_enough); else the fewest samples that are."""
        if self.long_enough(samples, need):
            return None
        # No length below this bound passes: int() and the spans' rounding take under one sample
        # off each span's share.
        bound = int(max(self.spans * (need / (1 - self.fraction) - 1),
                        (MIN_VALIDATION_SAMPLES - self.spans) / self.fraction)) - 1
        return next(m for m in itertools.count(max(samples, bound)) if self.long_enough(m, need))
