"""The standard capture signal and running it through a device under test.

The signal is deterministic (same seed, same samples) and covers what an amp or a compressor
meets in use: an alignment section (isolated clicks at known times: the device's impulse response
at a glance in a recording), log sine sweeps at several levels, white and pink noise at several
levels, synthetic plucked notes and strummed chords over a guitar's range at many velocities, and
silences between sections so that decays and gates are captured too."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Union

import numpy as np
import pedalboard
from scipy import signal as sps

from . import audio as audio_io

Device = Union[pedalboard.Plugin, Callable[[np.ndarray, float], np.ndarray]]

DEFAULT_SECONDS = 180.0
# Which capture signal this code makes, recorded with a model's capture recipe so that audio
# remade from it is the audio the model was trained on. 1: notes and chords summing past full
# scale were clipped; 2: such a note or chord is played softer (NOTES_CEILING).
SIGNAL_VERSION = 2
# Sample offsets of the clicks in the alignment section (after its leading silence).
ALIGNMENT_CLICKS_SECONDS = (0.25, 0.55, 0.95)
ALIGNMENT_SECONDS = 1.5
# Fractions of the remaining duration given to each section.
SECTION_SHARES = {"sweeps": 0.2, "noise": 0.15, "notes": 0.4, "chords": 0.25}
GAP_SECONDS = 0.25
# Peak levels of the noise section's parts, white and pink (white noise is clipped at 3 sigma).
NOISE_LEVELS = (0.02, 0.1, 0.4)
# Below this every section would be shorter than its gaps.
MIN_SECONDS = 12.0


def _sweep(seconds: float, rate: float, level: float) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    s = level * sps.chirp(t, f0=20.0, t1=t[-1], f1=min(20000.0, 0.45 * rate), method="logarithmic")
    fade = min(len(s) // 10, int(0.01 * rate))
    s[:fade] *= np.linspace(0, 1, fade)
    s[-fade:] *= np.linspace(1, 0, fade)
    return s


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    # Paul Kellet's economy pink filter as an IIR fit: 1/f within 0.5 dB over the audio band.
    b = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
    a = [1, -2.494956002, 2.017265875, -0.522189400]
    p = sps.lfilter(b, a, rng.standard_normal(n))
    return p / np.max(np.abs(p))


def _pluck(freq: float, seconds: float, rate: float, velocity: float, rng: np.random.Generator) -> np.ndarray:
    """Karplus-Strong string: a noise burst in a damped delay-line loop (an IIR, so lfilter)."""
    period = max(int(round(rate / freq)), 2)
    n = int(seconds * rate)
    burst = np.zeros(n)
    excitation = rng.uniform(-1, 1, period)
    # Softer notes are darker: low-pass the excitation more at low velocity.
    excitation = sps.lfilter([1 - 0.7 * (1 - velocity)], [1, -0.7 * (1 - velocity)], excitation)
    burst[:period] = excitation
    decay = 0.996 + 0.003 * rng.random()
    a = np.zeros(period + 2)
    a[0], a[period], a[period + 1] = 1.0, -0.5 * decay, -0.5 * decay
    y = sps.lfilter([1.0], a, burst)
    release = min(n // 5, int(0.02 * rate))
    y[-release:] *= np.linspace(1, 0, release)
    return velocity * y / (np.max(np.abs(y)) + 1e-12)


# Notes and chords overlap the previous note's ring; where their sum would pass this, the new
# note (or chord, as one event) is played softer instead of being clipped.
NOTES_CEILING = 0.98


def _softened_to_fit(mix: np.ndarray, event: np.ndarray, ceiling: float) -> float:
    """The largest gain g <= 1 with |mix + g * event| <= ceiling everywhere (|mix| <= ceiling)."""
    moving = np.abs(event) > 0
    room = (ceiling - mix[moving] * np.sign(event[moving])) / np.abs(event[moving])
    return float(np.clip(room.min(initial=1.0), 0.0, 1.0))


def _notes(seconds: float, rate: float, rng: np.random.Generator, chords: bool) -> np.ndarray:
    out = np.zeros(int(seconds * rate))
    pos = 0
    strum = int(0.012 * rate)  # strings 12 ms apart
    while pos < len(out):
        length = rng.uniform(0.3, 1.2)
        velocity = float(rng.uniform(0.05, 1.0) ** 0.7)
        root = 82.41 * 2 ** (rng.integers(0, 24) / 12)  # E2 .. E4
        pitches = [root] if not chords else [root * 2 ** (iv / 12) for iv in (0, 7, 12, 16, 19)[: rng.integers(3, 6)]]
        strings = [_pluck(f, length + 0.3, rate, velocity / np.sqrt(len(pitches)), rng) for f in pitches]
        event = np.zeros(len(strings[0]) + strum * (len(strings) - 1))
        for j, note in enumerate(strings):
            event[j * strum: j * strum + len(note)] += note
        end = min(pos + len(event), len(out))
        event = event[: end - pos]
        out[pos:end] += _softened_to_fit(out[pos:end], event, NOTES_CEILING) * event
        pos += int(length * rate)
    return out


ALIGNMENT_CLICK_LEVEL = 0.5


def alignment_section(sample_rate: float) -> np.ndarray:
    """The capture signal's first ALIGNMENT_SECONDS: silence with isolated clicks."""
    align = np.zeros(int(ALIGNMENT_SECONDS * sample_rate))
    for t in ALIGNMENT_CLICKS_SECONDS:
        align[int(t * sample_rate)] = ALIGNMENT_CLICK_LEVEL
    return align


def capture_signal(sample_rate: float = 48000, seconds: float = DEFAULT_SECONDS, seed: int = 0) -> np.ndarray:
    """The standard capture signal, mono float32 in [-1, 1]; identical for identical arguments."""
    x = np.concatenate([make() for _, _, _, make in _signal_parts(sample_rate, seconds, seed)])
    x = np.pad(x, (0, max(0, int(seconds * sample_rate) - len(x))))[: int(seconds * sample_rate)]
    return x.astype(np.float32)


def signal_sections(sample_rate: float = 48000, seconds: float = DEFAULT_SECONDS) -> list[tuple[str, int, int]]:
    """(name, first sample, end) of each section of the capture signal, in order: alignment
    clicks, sweeps, noise, notes, chords (each with the gap after it). The layout does not depend
    on the seed. A capture's last 15 %, which training held out before neuralfx.holdout's spans,
    lies in the chords (for every length from 12 s, where the device's latency is under about 1 s)."""
    sections, total = [], int(seconds * sample_rate)
    for name, _, lo, hi in _part_spans(sample_rate, seconds):
        if sections and sections[-1][0] == name:
            sections[-1] = (name, sections[-1][1], hi)
        else:
            sections.append((name, lo, hi))
    return [(name, lo, min(hi, total)) for name, lo, hi in sections if lo < total]


def white_noise_parts(audio: np.ndarray, sample_rate: float) -> list[tuple[int, int]] | None:
    """(first sample, end) of each part of white Gaussian noise when audio is the capture signal
    at this rate, else None: at least MIN_SECONDS long, the alignment clicks where capture_signal
    puts them, and each part where the layout for this length puts it (silence on both sides, its
    level's RMS). A file with audio added or cut at its end has its parts elsewhere: None."""
    head = int(ALIGNMENT_SECONDS * sample_rate)
    if len(audio) < int(MIN_SECONDS * sample_rate) or not np.allclose(
            audio[:head], alignment_section(sample_rate), rtol=0.0, atol=1e-4):
        return None
    parts = [(lo, hi) for _, kind, lo, hi in _part_spans(sample_rate, len(audio) / sample_rate)
             if kind == "white noise"]
    gap = int(GAP_SECONDS * sample_rate)
    for (lo, hi), level in zip(parts, NOISE_LEVELS):
        rms = np.sqrt(np.mean(np.square(audio[lo:hi], dtype=np.float64)))
        if np.any(audio[lo - gap:lo]) or np.any(audio[hi:hi + gap]) or not 0.9 < rms / (level / 3) < 1.1:
            return None
    return parts


def _part_spans(sample_rate: float, seconds: float) -> list[tuple[str, str, int, int]]:
    """(section name, what the part holds, first sample, end) of each part of the capture signal,
    in order, without making its audio."""
    spans, start = [], 0
    for name, kind, length, _ in _signal_parts(sample_rate, seconds, 0):
        spans.append((name, kind, start, start + length))
        start += length
    return spans


def _signal_parts(sample_rate: float, seconds: float,
                  seed: int) -> list[tuple[str, str, int, Callable[[], np.ndarray]]]:
    """capture_signal's parts in order: (section name, what the part holds, length in samples, a
    function that makes the part). The layout needs no audio made (signal_sections); the
    functions share one random generator and make the signal only when called in order."""
    if seconds < MIN_SECONDS:
        raise ValueError(f"a capture signal needs at least {MIN_SECONDS:g} seconds, got {seconds:g}")
    rng = np.random.default_rng(seed)
    gap_length = int(GAP_SECONDS * sample_rate)
    body = seconds - ALIGNMENT_SECONDS

    def share(name: str) -> float:
        return SECTION_SHARES[name] * body

    def gap() -> np.ndarray:
        return np.zeros(gap_length)

    parts: list[tuple[str, str, int, Callable[[], np.ndarray]]] = [
        ("alignment clicks", "clicks", int(ALIGNMENT_SECONDS * sample_rate), lambda: alignment_section(sample_rate))]
    levels = (0.03, 0.125, 0.5, 0.9)
    sweep_seconds = share("sweeps") / len(levels) - GAP_SECONDS
    for lv in levels:
        parts += [("sweeps", "sweep", int(sweep_seconds * sample_rate),
                   lambda lv=lv: _sweep(sweep_seconds, sample_rate, lv)),
                  ("sweeps", "gap", gap_length, gap)]
    n = int((share("noise") / 6 - GAP_SECONDS) * sample_rate)
    for lv in NOISE_LEVELS:
        parts += [("noise", "white noise", n, lambda lv=lv: lv * np.clip(rng.standard_normal(n) / 3, -1, 1)),
                  ("noise", "gap", gap_length, gap),
                  ("noise", "pink noise", n, lambda lv=lv: lv * _pink(n, rng)), ("noise", "gap", gap_length, gap)]
    for name in ("notes", "chords"):
        played = share(name) - GAP_SECONDS
        parts += [(name, name, int(played * sample_rate),
                   lambda played=played, chords=name == "chords": _notes(played, sample_rate, rng, chords=chords)),
                  (name, "gap", gap_length, gap)]
    return parts


@dataclass
class CapturePair:
    """A device's input and its recorded output. A capture made here has both of one length; a
    pair recorded elsewhere may differ by the device's latency until training aligns it
    (neuralfx.datacheck.prepare)."""

    input: np.ndarray  # mono float32
    target: np.ndarray  # mono float32
    sample_rate: float
    # Whether the audio went through a converter (a recording): only then is a run of samples
    # held at full scale clipping. A digital device run here saturating at full scale is its sound.
    recorded: bool = True

    def __post_init__(self) -> None:
        # Checked here, where the pair is made: float64 failed in the network after the data
        # checks and the model's construction, a (2, N) array deep inside a clipping check.
        self.input = _mono_float32("input", self.input)
        self.target = _mono_float32("target", self.target)

    def save(self, folder: str | os.PathLike) -> tuple[Path, Path]:
        """Writes input.wav and target.wav (32-bit float, lossless) into folder."""
        folder = Path(folder)
        paths = folder / "input.wav", folder / "target.wav"
        for path, data in zip(paths, (self.input, self.target)):
            audio_io.write(path, data, self.sample_rate)
        return paths

    @classmethod
    def load(cls, input_path: str | os.PathLike, target_path: str | os.PathLike, sample_rate: float | None = None,
             input_channel: int | None = None, target_channel: int | None = None) -> "CapturePair":
        """A pair of audio files, e.g. recorded elsewhere (channels 1-based, the first by default);
        see neuralfx.datacheck.read_pair."""
        from .datacheck import read_pair

        return read_pair(input_path, target_path, sample_rate, input_channel=input_channel,
                         target_channel=target_channel)


def _mono_float32(name: str, audio: object) -> np.ndarray:
    """One channel of audio as float32: float64 and lists are converted; several channels and
    integer samples (whose full scale this cannot know) are refused."""
    array = np.asarray(audio)
    if array.ndim != 1:
        raise ValueError(f"CapturePair {name} must be mono, one axis of samples; got shape {array.shape}: "
                         "pass one channel (x[0]) or their mean (x.mean(axis=0)) of a (channels, samples) array")
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"CapturePair {name} must hold float samples (full scale 1.0); got {array.dtype}: "
                         "neuralfx.audio.read gives float32 from any file, or divide int16 samples by 32768")
    return audio_io.as_float32(array, f"CapturePair {name}")


def run_device(device: Device, signal: np.ndarray, sample_rate: float) -> np.ndarray:
    """The device's mono response to signal. Any Pedalboard plugin or chain works, or a callable
    (audio, sample_rate) -> audio; multi-channel output is reduced to its first channel."""
    if isinstance(device, pedalboard.Plugin):
        y = device.process(signal[None, :], sample_rate, reset=True)
    else:
        y = np.asarray(device(signal[None, :], sample_rate))
    y = np.atleast_2d(y).astype(np.float32)
    if y.shape[-1] != len(signal):
        raise ValueError(f"device returned {y.shape[-1]} samples for {len(signal)}: it must keep the length")
    # A device, not a file: cleaning its output would hide that a stage cannot run at this rate.
    audio_io.check_finite(y, "device output", advice=(
        f"a stage may be set beyond what {sample_rate:g} Hz allows (a filter at or above half the rate, "
        f"{sample_rate / 2:g} Hz, gave NaN in Pedalboard): check its settings, or capture at a higher rate"))
    return y[0].copy()


def capture(device: Device, sample_rate: float = 48000, seconds: float = DEFAULT_SECONDS, seed: int = 0) -> CapturePair:
    x = capture_signal(sample_rate, seconds, seed)
    return CapturePair(x, run_device(device, x, sample_rate), float(sample_rate), recorded=False)
