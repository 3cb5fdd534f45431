"""Audio arrays and files with Pedalboard's conventions, and the checks every entry point shares.

Arrays are float32 shaped (channels, samples); 1-D means mono. Files go through
pedalboard.io.AudioFile, streamed so that a long file never has to fit in memory."""

from __future__ import annotations

import math
import numbers
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
from pedalboard.io import AudioFile, get_supported_write_formats

from .files import atomic_path

MAX_CHANNELS = 32


def as_channels_first(audio: np.ndarray, name: str = "audio") -> np.ndarray:
    """A (channels, samples) float32 view or copy of audio; rejects what cannot be audio."""
    if not isinstance(audio, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(audio).__name__}")
    if audio.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64, got {audio.dtype}: convert with audio.astype(np.float32)")
    if audio.ndim == 1:
        audio = audio[None, :]
    if audio.ndim != 2:
        raise ValueError(f"{name} must be 1-D (mono) or 2-D (channels, samples), got shape {audio.shape}")
    channels, samples = audio.shape
    if channels > MAX_CHANNELS and samples <= MAX_CHANNELS:
        raise ValueError(f"{name} has shape {audio.shape}, which looks like (samples, channels): pass {name}.T")
    if channels > MAX_CHANNELS:
        raise ValueError(f"{name} has {channels} channels; at most {MAX_CHANNELS} are supported")
    if channels == 0:
        raise ValueError(f"{name} has no channels")
    return np.ascontiguousarray(as_float32(audio, name))


def as_float32(audio: np.ndarray, name: str = "audio") -> np.ndarray:
    """Float audio (1-D, or channels first) as float32; a float64 value beyond float32's range is
    named (the cast made it Inf, with a warning, and it was then called NaN or Inf)."""
    if audio.dtype == np.float64:
        beyond = (np.abs(audio) > np.finfo(np.float32).max) & np.isfinite(audio)
        if beyond.any():
            at = np.argwhere(beyond)[0]
            where = f"channel {at[0]}, sample {at[1]}" if audio.ndim == 2 else f"sample {at[-1]}"
            raise ValueError(f"{name} holds {audio[tuple(at)]:g} ({where}), beyond float32's range, to which "
                             "audio is converted: scale it down first")
    return audio.astype(np.float32, copy=False)


def no_frames(channels: int) -> np.ndarray:
    """A (channels, 0) array. Pedalboard's plugins, stream resamplers and file writers take the
    channel axis from the first array they are given and keep it: a square first array fails
    ("Unable to determine channel layout"), a (2, 1) one is read as one channel of two samples.
    Given this first, each reads every later array as (channels, samples) (Pedalboard 0.9)."""
    return np.zeros((channels, 0), np.float32)


def check_sample_rate(sample_rate: object) -> float:
    """sample_rate as a float of Hz; TypeError/ValueError for anything else ("48000" as text)."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real):
        raise TypeError(f"sample_rate must be a number of Hz, like 48000, not {sample_rate!r}")
    rate = float(sample_rate)
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"sample_rate must be a positive number of Hz, not {sample_rate!r}")
    return rate


def check_buffer_size(buffer_size: object) -> int:
    """buffer_size as a whole number of frames, at least 1."""
    if isinstance(buffer_size, bool) or not isinstance(buffer_size, numbers.Integral) or buffer_size < 1:
        raise ValueError(f"buffer_size must be a whole number of frames >= 1, not {buffer_size!r}")
    return int(buffer_size)


def check_finite(audio: np.ndarray, name: str = "audio", first_frame: int = 0,
                 advice: str = "clean it first (re-export the file, or np.nan_to_num(audio) in Python)") -> None:
    """ValueError naming the first NaN or Inf and `advice`; `first_frame` is the index of audio's
    first frame in the whole signal (a file read block by block), so the position given is absolute."""
    if not np.all(np.isfinite(audio)):
        bad = np.argwhere(~np.isfinite(audio))[0]
        raise ValueError(f"{name} contains NaN or Inf (first at channel {bad[0]}, sample {first_frame + bad[1]}): {advice}")


def open_input(path: str | os.PathLike) -> AudioFile:
    """Opens an audio file for streamed reading, with a clear error for what is not one."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"audio file '{path}' does not exist")
    if path.is_dir():
        raise IsADirectoryError(f"'{path}' is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise ValueError(f"audio file '{path}' is empty")
    try:
        f = AudioFile(str(path))
    except Exception as e:  # pedalboard raises ValueError/RuntimeError depending on the format
        raise ValueError(f"'{path}' is not a readable audio file ({e})") from None
    if f.frames == 0:
        f.close()
        raise ValueError(f"audio file '{path}' holds no audio frames")
    return f


def read(path: str | os.PathLike) -> tuple[np.ndarray, float]:
    """A whole file as (channels, samples) float32 and its sample rate."""
    with open_input(path) as f:
        return f.read(f.frames), float(f.samplerate)


# Processing can exceed full scale: WAV keeps it (32-bit float). Pedalboard writes AIFF and
# FLAC as integers at most 24 bits deep, and MP3 and OGG clip too.
BIT_DEPTH_BY_SUFFIX = {".wav": 32, ".aif": 24, ".aiff": 24, ".flac": 24}
FLOAT_SUFFIXES = {".wav"}


class OutputFile:
    """An open output: writes, and counts the samples beyond full scale its format clips."""

    def __init__(self, writer: AudioFile, suffix: str) -> None:
        self._writer = writer
        self.format = f"{suffix.lstrip('.').upper()}, {_depth_text(suffix)}"
        self._clips = suffix not in FLOAT_SUFFIXES
        self.clipped = 0

    def write(self, audio: np.ndarray) -> None:
        if self._clips:
            self.clipped += int(np.count_nonzero(np.abs(audio) > 1.0))
        self._writer.write(audio)


def _depth_text(suffix: str) -> str:
    depth = BIT_DEPTH_BY_SUFFIX.get(suffix)
    return "32-bit float" if suffix in FLOAT_SUFFIXES else f"{depth}-bit" if depth else "lossy"


@contextmanager
def atomic_output(path: str | os.PathLike, sample_rate: float, num_channels: int) -> Iterator[OutputFile]:
    """A writer whose file appears at `path` only once writing completed: a failure midway
    leaves no half-written output behind. WAV is written as 32-bit float, AIFF and FLAC as 24-bit."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"output '{path}' is a folder: give a file name, e.g. '{path / 'out.wav'}'")
    if not path.suffix:
        raise ValueError(f"output '{path}' has no extension to tell the format: e.g. '{path}.wav' (or .flac, .aiff)")
    suffix = path.suffix.lower()
    writable = sorted(set(get_supported_write_formats()) | set(BIT_DEPTH_BY_SUFFIX))
    if suffix not in writable:
        raise ValueError(f"output '{path}': cannot write {path.suffix} files; give one of {', '.join(writable)}")
    options = {"bit_depth": BIT_DEPTH_BY_SUFFIX[suffix]} if suffix in BIT_DEPTH_BY_SUFFIX else {}
    with atomic_path(path, suffix=path.suffix) as tmp:
        with AudioFile(str(tmp), "w", samplerate=sample_rate, num_channels=num_channels, **options) as out:
            out.write(no_frames(num_channels))
            yield OutputFile(out, suffix)


def write(path: str | os.PathLike, audio: np.ndarray, sample_rate: float) -> Path:
    audio = as_channels_first(audio)
    with atomic_output(path, sample_rate, audio.shape[0]) as out:
        out.write(audio)
    return Path(path)
