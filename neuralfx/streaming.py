"""Streams audio through a chain's stages (Pedalboard plugins, neuralfx effects) chunk by chunk,
so that a stream gives what processing the whole signal at once gives.

Three habits of Pedalboard's plugins make naive chunking wrong (Pedalboard 0.9, measured):
- A chunk longer than the first one (counting at most buffer_size samples) re-prepares the
  plugin, which clears its state: a Reverb fed 100 then 512 samples differs by 0.027 from one
  fed the same signal whole. Chunks of any length up to the first one's give the whole-signal
  result exactly (Reverb, Chorus, Phaser, LadderFilter: 300, 512 or mixed lengths, difference 0).
- The channel layout is taken from the first chunk's shape: a first chunk of no more samples
  than channels is read sideways or refused, later ones are read as the first.
- A plugin with latency (MP3Compressor, Resample, GSMFullRateCompressor) returns fewer samples
  than it took until zeros follow the signal.
So a plugin's first chunk is held back until it is long enough (and longer than the channel
count), later chunks are cut to that first length, and a flush feeds silence through the chain
until it has returned as many samples as it took.

Two exceptions remain, whose output depends on the chunks even so:
- MP3Compressor: on 2 s of plucks at 48 kHz, streams whose first chunk was 4617, or 1200 then
  100, samples differed from one whole call by up to 1.10 and 1.27 (chunks of 512 throughout: 0),
  found by a review on 2026-12-01.
- GSMFullRateCompressor: fed 2 s of noise (0.3 rms) in chunks of 160 to 8192 samples, then 1 s
  of silence, Pedalboard 0.9.26 returned 848 to 7124 samples for the first chunk and a varying
  count later (133666 to 134738 in all, for 144000), and the stream differed from one whole call
  by 0.51 to 0.56 at every chunk length tried (measured 2026-12-01).
A chain holding either streams to another result than Pedalboard's one call gives."""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import pedalboard

from .audio import check_buffer_size, no_frames
from .effects import NeuralEffect

Stage = Union[pedalboard.Plugin, NeuralEffect]

# A plugin's first chunk is held back until it has this many samples (or buffer_size, if
# smaller): later chunks are cut to the first one's length, and a few samples would make every
# later call tiny. neuralfx effects have no such habit and are never held back.
FIRST_CHUNK_SAMPLES = 1024
# How much silence a flush may feed a chain that still owes samples: far above any plugin's
# latency, and a bound on the work when a stage never returns what it took.
MAX_FLUSH_SECONDS = 60.0


class StageStream:
    """One stage, streamed: a plugin's first chunk is held back until it is long enough, and
    every later chunk is cut to that first length."""

    def __init__(self, stage: Stage, sample_rate: float, channels: int, buffer_size: int) -> None:
        self.stage = stage
        self.sample_rate = sample_rate
        self.channels = channels
        self.buffer_size = buffer_size
        is_plugin = isinstance(stage, pedalboard.Plugin)
        # A plugin's chunks hold more samples than channels whatever buffer_size (Pedalboard
        # still steps it buffer_size samples at a time): a first chunk of no more samples than
        # channels is read sideways or refused, and an empty array given first to fix the layout
        # made Pedalboard 0.9.26's Convolution divide by zero, which killed the process.
        self._longest = max(buffer_size, channels + 1) if is_plugin else buffer_size
        # The longest chunk the stage may get; for a plugin, fixed by its first chunk.
        self._chunk = None if is_plugin else buffer_size
        self._first = min(self._longest, FIRST_CHUNK_SAMPLES)
        self._pending = no_frames(channels)

    def _run(self, chunk: np.ndarray) -> np.ndarray:
        return self.stage.process(chunk, self.sample_rate, buffer_size=self.buffer_size, reset=False)

    def process(self, audio: np.ndarray) -> np.ndarray:
        if self._chunk is None:
            self._pending = np.concatenate([self._pending, audio], axis=1)
            if self._pending.shape[1] < self._first:
                return no_frames(self.channels)
            audio, self._pending = self._pending, no_frames(self.channels)
            self._chunk = min(audio.shape[1], self._longest)
        outs = [self._run(audio[:, i : i + self._chunk]) for i in range(0, audio.shape[1], self._chunk)]
        return np.concatenate(outs, axis=1) if outs else no_frames(self.channels)


class StageChain:
    """Stages streamed one after another at one sample rate. process() returns what the last
    stage has produced so far, never more samples than the chain took; flush() ends the stream
    with silence, through every stage as in a whole-signal call (so a stage's reverb tail or
    latency reaches the next), until the chain has returned as many samples as it took."""

    def __init__(self, stages: Sequence[Stage], sample_rate: float, channels: int, buffer_size: int) -> None:
        buffer_size = check_buffer_size(buffer_size)
        self._streams = [StageStream(s, sample_rate, channels, buffer_size) for s in stages]
        self._channels = channels
        self._silence = np.zeros((channels, buffer_size), np.float32)
        self._flush_limit = int(MAX_FLUSH_SECONDS * sample_rate)
        self._taken = 0
        self._returned = 0

    def _through(self, audio: np.ndarray) -> np.ndarray:
        for stream in self._streams:
            audio = stream.process(audio)
        # After the signal, the chain's response to the flush's silence is not part of the stream.
        out = audio[:, : self._taken - self._returned]
        self._returned += out.shape[1]
        return out

    def process(self, audio: np.ndarray) -> np.ndarray:
        self._taken += audio.shape[1]
        return self._through(audio)

    def flush(self) -> np.ndarray:
        outs, fed = [], 0
        while self._returned < self._taken:
            if fed >= self._flush_limit:
                raise RuntimeError(
                    f"the chain returned {self._returned} samples for {self._taken} after {MAX_FLUSH_SECONDS:g} s "
                    "of silence: each stage must return as many samples as it takes"
                )
            outs.append(self._through(self._silence))
            fed += self._silence.shape[1]
        return np.concatenate(outs, axis=1) if outs else no_frames(self._channels)
