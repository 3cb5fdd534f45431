"""Streaming rate conversion around a processor that must run at a fixed rate (a model's).

Built on pedalboard.io.StreamResampler, which compensates its own latency: an impulse keeps
its time position through up- and down-conversion."""

from __future__ import annotations

from typing import Callable

import numpy as np
from pedalboard.io import StreamResampler


class RateAdapter:
    """Feeds audio at `outer_rate` through `process` at `inner_rate` and back.

    Output per call may be a few samples shorter than input; `flush()` returns the rest."""

    def __init__(
        self, process: Callable[[np.ndarray], np.ndarray], outer_rate: float, inner_rate: float, num_channels: int
    ) -> None:
        self._process = process
        self._up = StreamResampler(outer_rate, inner_rate, num_channels)
        self._down = StreamResampler(inner_rate, outer_rate, num_channels)

    def _through(self, inner: np.ndarray) -> np.ndarray:
        return self._process(inner) if inner.shape[1] else inner

    def process(self, audio: np.ndarray) -> np.ndarray:
        return self._down.process(self._through(self._up.process(audio)))

    def flush(self) -> np.ndarray:
        tail = self._down.process(self._through(self._up.process()))
        return np.concatenate([tail, self._down.process()], axis=1)


def fit_length(audio: np.ndarray, samples: int) -> np.ndarray:
    """Trims or zero-pads (channels, n) audio to exactly `samples` (rate conversion rounds)."""
    if audio.shape[1] >= samples:
        return audio[:, :samples]
    return np.pad(audio, ((0, 0), (0, samples - audio.shape[1])))
