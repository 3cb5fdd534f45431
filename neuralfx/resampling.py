"""Streaming rate conversion around a processor that must run at a fixed rate (a model's).

Built on the kernel's resampler (neuralfx._core.Resampler, the one the plugin runs), which has
no delay: output sample k is the input at time k / out_rate exactly, so an impulse keeps its
time position through up- and down-conversion, and flush() returns every sample the input
determines."""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from . import _core


class RateAdapter:
    """Feeds audio at `outer_rate` through `process` at `inner_rate` and back.

    Output per call may be a few samples shorter than input; `flush()` returns the rest. When the
    processor holds samples back itself (a stream of stages), `flush_inner` returns them."""

    def __init__(
        self,
        process: Callable[[np.ndarray], np.ndarray],
        outer_rate: float,
        inner_rate: float,
        num_channels: int,
        flush_inner: Optional[Callable[[], np.ndarray]] = None,
    ) -> None:
        self._process = process
        self._flush_inner = flush_inner
        self._up = _core.Resampler(outer_rate, inner_rate, num_channels)
        self._down = _core.Resampler(inner_rate, outer_rate, num_channels)

    def _through(self, inner: np.ndarray) -> np.ndarray:
        return self._process(inner) if inner.shape[1] else inner

    def process(self, audio: np.ndarray) -> np.ndarray:
        return self._down.process(self._through(self._up.process(audio)))

    def flush(self) -> np.ndarray:
        inner = self._through(self._up.flush())
        if self._flush_inner is not None:
            inner = np.concatenate([inner, self._flush_inner()], axis=1)
        return np.concatenate([self._down.process(inner), self._down.flush()], axis=1)


def fit_length(audio: np.ndarray, samples: int) -> np.ndarray:
    """Trims or zero-pads (channels, n) audio to exactly `samples`: a round trip through another
    rate can give one sample more than went in (each conversion rounds its count up)."""
    if audio.shape[1] >= samples:
        return audio[:, :samples]
    return np.pad(audio, ((0, 0), (0, samples - audio.shape[1])))
