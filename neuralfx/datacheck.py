"""Checks on an input/target pair before training, and its alignment.

Each check stops with a DataError that says what is wrong, the value measured, and what to do:
clipping (runs of identical samples at full scale), silence, too low a level, sample-rate
mismatch (between the files, or against a requested rate), length mismatch beyond the device's
latency, and misalignment (neuralfx.alignment). `prepare` runs them all and returns the pair
with the latency removed.

Multi-channel files: the first channel is used (a DI track is mono; a stereo export of a mono
device carries it twice); a note is printed when the other channels differ from the first."""

from __future__ import annotations

import os
from typing import Callable, Optional

import numpy as np

from . import alignment, capture
from .audio import check_finite, read
from .capture import CapturePair

# A clipped recording holds its extreme value: this many identical samples in a row at or above
# CLIP_LEVEL. The capture signal peaks at 0.98 (version 2; version 1's loudest chords touched full
# scale in runs of up to 6), and a converter that clips holds for tens of samples.
CLIP_LEVEL = 0.999  # -0.01 dBFS
CLIP_RUN = 8
# Peak level below which a signal is taken as absent, and below which it is too quiet to learn
# from (the device's noise floor and the converter's would be a large part of it).
SILENCE_DBFS = -100.0
MIN_PEAK_DBFS = -40.0
# An input's DC offset above this (-34 dBFS) is noted: it moves the device's operating point.
# The offset is the median of the means of DC_BLOCK_SECONDS blocks: a whole file's mean is not
# one (plucked notes are asymmetric: the capture signal's mean reached 0.015 at some seeds and
# lengths, its median block mean 0.0053 at most over 250 of them).
DC_NOTE_LEVEL = 0.02
DC_BLOCK_SECONDS = 0.1
# Editors round exports to their grid: lengths may differ by the latency plus this much.
LENGTH_SLACK_SECONDS = 0.01
POLARITY_CHOICES = ("error", "flip", "keep")


class DataError(ValueError):
    """The training data is unusable as it is; the message says what to do."""


def peak_dbfs(audio: np.ndarray) -> float:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return 20 * np.log10(peak) if peak > 0 else -np.inf


def check_level(audio: np.ndarray, what: str) -> None:
    level = peak_dbfs(audio)
    if level < SILENCE_DBFS:
        raise DataError(f"{what} is silent (peak {level:.1f} dBFS): check that the device is on and connected and "
                        "that the right track was exported")
    if level < MIN_PEAK_DBFS:
        raise DataError(f"{what} peaks at {level:.1f} dBFS, below the minimum of {MIN_PEAK_DBFS:g} dBFS: raise the "
                        "device's output or the recording gain (aim for peaks between -12 and -1 dBFS) and record again")


def clipped_runs(audio: np.ndarray) -> np.ndarray:
    """Start indices of runs of at least CLIP_RUN identical samples at or above CLIP_LEVEL."""
    held = (np.abs(audio[1:]) >= CLIP_LEVEL) & (audio[1:] == audio[:-1])
    edges = np.diff(np.concatenate([[0], held.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    # A run of k equal neighbours is k + 1 identical samples.
    return starts[ends - starts + 1 >= CLIP_RUN]


def check_clipping(audio: np.ndarray, what: str, sample_rate: float) -> None:
    runs = clipped_runs(audio)
    if len(runs):
        raise DataError(
            f"{what} clips: {len(runs)} run(s) of {CLIP_RUN}+ samples held at full scale, the first at "
            f"{runs[0] / sample_rate:.3f} s. Lower the level before the converter (the device's output or the "
            "interface gain) and record again; if the device itself clips by design, pass allow_clipping=True "
            "(--allow-clipping)")


def check_rates(input_rate: float, target_rate: float, requested: Optional[float] = None) -> float:
    if input_rate != target_rate:
        raise DataError(f"input is {input_rate:g} Hz but target is {target_rate:g} Hz: record or export both at one "
                        "rate (resampling the target would blur the device's latency and top octave)")
    if requested is not None and input_rate != requested:
        raise DataError(f"the files are {input_rate:g} Hz but {requested:g} Hz was requested (--sample-rate): export "
                        "them at that rate or request theirs")
    return float(input_rate)


def check_lengths(input_frames: int, target_frames: int, latency: int, sample_rate: float) -> None:
    allowed = latency + int(LENGTH_SLACK_SECONDS * sample_rate)
    diff = target_frames - input_frames
    if abs(diff) > allowed:
        raise DataError(
            f"input has {input_frames} frames but target has {target_frames} ({abs(diff)} samples = "
            f"{1000 * abs(diff) / sample_rate:.1f} ms apart, more than the latency of {latency} samples plus "
            f"{1000 * LENGTH_SLACK_SECONDS:g} ms): they are not one take; export both from one start to one end")


def first_channel(audio: np.ndarray, what: str, progress: Callable[[str], None]) -> np.ndarray:
    if audio.shape[0] > 1 and not np.allclose(audio[1:], audio[0], atol=1e-6):
        if peak_dbfs(audio[0]) < SILENCE_DBFS:  # said "target is silent ... check that the device is on"
            other = next((k for k in range(1, audio.shape[0]) if peak_dbfs(audio[k]) >= SILENCE_DBFS), None)
            if other is not None:
                raise DataError(f"{what}: channel 1 is silent and channel {other + 1} carries the signal, and the "
                                "first channel is the one used unless another is chosen: choose it (train, fit, "
                                "report: --input-channel / --target-channel) or export it as a mono file")
        progress(f"note: {what} has {audio.shape[0]} differing channels; using the first (train, fit, report: "
                 "--input-channel / --target-channel choose others)")
    return audio[0].copy()


def pick_channel(audio: np.ndarray, channel: Optional[int], what: str, progress: Callable[[str], None]) -> np.ndarray:
    """Channel `channel` (1-based) of audio, or first_channel's choice when None: a re-amp file
    holds the dry signal and the device's output on two channels of one file."""
    if channel is None:
        return first_channel(audio, what, progress)
    if not 1 <= channel <= audio.shape[0]:
        raise DataError(f"{what} has {audio.shape[0]} channel(s): there is no channel {channel}")
    return audio[channel - 1].copy()


def dc_offset(audio: np.ndarray, sample_rate: float) -> float:
    """The DC offset of a signal: the median of its DC_BLOCK_SECONDS blocks' means."""
    n = max(1, int(DC_BLOCK_SECONDS * sample_rate))
    blocks = len(audio) // n
    if blocks == 0:
        return float(np.mean(audio, dtype=np.float64)) if len(audio) else 0.0
    return float(np.median(audio[: blocks * n].reshape(blocks, n).mean(axis=1, dtype=np.float64)))


def dc_offset_note(offsets: dict[str, float]) -> Optional[str]:
    """One note for the inputs (by name) whose DC offset (dc_offset) is DC_NOTE_LEVEL or more."""
    flagged = {name: v for name, v in offsets.items() if abs(v) >= DC_NOTE_LEVEL}
    if not flagged:
        return None
    low, high = f"{min(flagged.values()):+.3g}", f"{max(flagged.values()):+.3g}"
    return (f"note: the input of {', '.join(flagged)} has a DC offset of {low if low == high else f'{low} to {high}'} "
            "(the median of its 0.1 s blocks' means, or its mean if shorter): the model learns the device around "
            "that bias, and audio without it plays it elsewhere; if the device did not receive the offset (most "
            "interfaces are AC-coupled), remove it from the input file (a high-pass at a few Hz) and train again")


def read_pair(input_path: str | os.PathLike, target_path: str | os.PathLike, sample_rate: Optional[float] = None,
              progress: Callable[[str], None] = print, recorded: bool = True, input_channel: Optional[int] = None,
              target_channel: Optional[int] = None) -> CapturePair:
    """Input and target files as a pair (one channel of each, 1-based: the first unless given),
    rates checked. They may be one file. Lengths may differ by the latency: `prepare` checks them
    once it is known."""
    x, rate_x = read(input_path)
    y, rate_y = read(target_path)
    rate = check_rates(rate_x, rate_y, sample_rate)
    return CapturePair(pick_channel(x, input_channel, f"input '{input_path}'", progress),
                       pick_channel(y, target_channel, f"target '{target_path}'", progress), rate, recorded)


def check_signals(pair: CapturePair, allow_clipping: bool = False, what: str = "capture") -> None:
    """Both signals finite, present, loud enough and (recorded pairs, unless allowed) not clipped."""
    for name, audio in (("input", pair.input), ("target", pair.target)):
        check_finite(audio[None, :], f"{what} {name}")
        check_level(audio, f"{what} {name}")
        if pair.recorded and not allow_clipping:
            check_clipping(audio, f"{what} {name}", pair.sample_rate)


def prepare(pair: CapturePair, max_latency_seconds: float = alignment.DEFAULT_MAX_LATENCY_SECONDS,
            polarity: str = "error", allow_clipping: bool = False,
            what: str = "capture") -> tuple[CapturePair, alignment.Alignment]:
    """The pair checked, its latency removed and, with polarity="flip", an inverted target
    flipped back. polarity: "error" stops on an inverted target, "keep" trains on it as is.
    Clipping is checked on recorded pairs only (CapturePair.recorded)."""
    if polarity not in POLARITY_CHOICES:
        raise ValueError(f"polarity must be one of {POLARITY_CHOICES}, got '{polarity}'")
    rate = pair.sample_rate
    check_signals(pair, allow_clipping, what)
    try:
        found = alignment.detect(pair.input, pair.target, rate, max_latency_seconds,
                                 noise=capture.white_noise_parts(pair.input, rate))
    except alignment.AlignmentError as e:
        raise DataError(f"{what}: {e}") from None
    if found.inverted and polarity == "error":
        raise DataError(
            f"{what}: the target's polarity is inverted relative to the input (the device, a cable or the "
            "interface flips phase). Pass polarity='flip' (--polarity flip) to train on the target flipped back, "
            "or polarity='keep' (--polarity keep) to model the inversion. Check first that the input is the dry "
            "signal and the target the device's output: swapped files read as inverted too")
    check_lengths(len(pair.input), len(pair.target), found.latency, rate)
    x, y = alignment.remove_latency(pair.input, pair.target, found.latency)
    if found.inverted and polarity == "flip":
        y = -y
    return CapturePair(x, y, rate, pair.recorded), found


def check_unaligned(pair: CapturePair, allow_clipping: bool = False, what: str = "capture") -> CapturePair:
    """prepare's checks without the alignment, for a pair whose timing is the device's own (a fit
    of a chain with a delay block): cut to the common length."""
    check_signals(pair, allow_clipping, what)
    check_lengths(len(pair.input), len(pair.target), 0, pair.sample_rate)
    x, y = alignment.remove_latency(pair.input, pair.target, 0)
    return CapturePair(x, y, pair.sample_rate, pair.recorded)


def describe_alignment(found: alignment.Alignment, polarity: str) -> str:
    """What prepare did to a pair, for a progress line."""
    return (found.describe() + (" (removed)" if found.latency else "")
            + ("; target flipped back" if found.inverted and polarity == "flip" else ""))
