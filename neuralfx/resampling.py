"""Streaming rate conversion around a processor that must run at a fixed rate (a model's).

Built on the kernel's resampler (neuralfx._core.Resampler, the one the plugin runs), which has
no delay: output sample k is the input at time k / out_rate exactly, so an impulse keeps its
time position through up- and down-conversion, and flush() returns every sample the input
determines."""

from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np

from . import _core


def converts(outer_rate: float, inner_rate: float) -> bool:
    """Whether RateAdapter runs audio at outer_rate through a processor at inner_rate: the
    kernel's converter takes whole Hz only, and a bounded filter (47999 <-> 48000 Hz needs 48000
    phases). Asked of the converter itself, both ways."""
    try:
        _core.Resampler(outer_rate, inner_rate, 1)
        _core.Resampler(inner_rate, outer_rate, 1)
    except ValueError:
        return False
    return True


class RateAdapter:
    """Feeds audio at `outer_rate` through `process` at `inner_rate` and back.

    Output per call may be a few samples shorter than input; `flush()` returns the rest, so that
    a stream returns exactly as many samples as it got. When the processor holds samples back
    itself (a stream of stages), `flush_inner` returns them.

    The processor also runs on a margin of silence before the audio and after it: converting
    the first and last samples back reads the processor's output that far around them, which is
    its output on silence (a resting amp's offset, the ring of its last notes), not zeros. The
    margin is a whole number of inner samples, so the processor sees the samples it would see
    without it, as in the plugin, whose delayed conversion runs the model on the same grid
    (cpp/plugin/resampler.hpp); with zeros in their place the two differed in the first and last
    milliseconds by up to 0.012 (crunch_amp at 44.1 kHz)."""

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
        self._silence = np.zeros((num_channels, margin_samples(outer_rate, inner_rate, self._down.half_taps)),
                                 np.float32)
        self._to_drop = self._silence.shape[1]  # the outputs of the leading margin
        self._started = False
        self._received = self._returned = 0

    def _through(self, inner: np.ndarray) -> np.ndarray:
        return self._process(inner) if inner.shape[1] else inner

    def _owed(self, out: np.ndarray) -> np.ndarray:
        """out without the leading margin's outputs and anything past the audio's length."""
        drop = min(self._to_drop, out.shape[1])
        self._to_drop -= drop
        out = out[:, drop : drop + self._received - self._returned]
        self._returned += out.shape[1]
        return out

    def process(self, audio: np.ndarray) -> np.ndarray:
        self._received += audio.shape[1]
        if not self._started:
            audio = np.concatenate([self._silence, audio], axis=1)
            self._started = True
        return self._owed(self._down.process(self._through(self._up.process(audio))))

    def flush(self) -> np.ndarray:
        if not self._started:  # nothing came in: nothing is owed
            return np.zeros((self._silence.shape[0], 0), np.float32)
        inner = np.concatenate([self._through(self._up.process(self._silence)), self._through(self._up.flush())],
                               axis=1)
        if self._flush_inner is not None:
            inner = np.concatenate([inner, self._flush_inner()], axis=1)
        out = self._owed(np.concatenate([self._down.process(inner), self._down.flush()], axis=1))
        out = fit_length(out, out.shape[1] + self._received - self._returned)
        # The converters start afresh after a flush: so does the margin, for the next stream.
        self._started, self._to_drop = False, self._silence.shape[1]
        self._received = self._returned = 0
        return out


def margin_samples(outer_rate: float, inner_rate: float, inner_half_taps: int) -> int:
    """Outer samples that span the conversion back's reach (inner_half_taps inner samples), in
    whole steps of outer_rate / gcd: a whole number of inner samples long."""
    step = int(outer_rate) // math.gcd(int(outer_rate), int(inner_rate))
    reach = math.ceil((inner_half_taps + 1) * outer_rate / inner_rate)
    return step * math.ceil(reach / step)


def fit_length(audio: np.ndarray, samples: int) -> np.ndarray:
    """Trims or zero-pads (channels, n) audio to exactly `samples`: a round trip through another
    rate can give one sample more than went in (each conversion rounds its count up)."""
    if audio.shape[1] >= samples:
        return audio[:, :samples]
    return np.pad(audio, ((0, 0), (0, samples - audio.shape[1])))
