"""Kernel-backed effects with Pedalboard's calling convention.

    amp = neuralfx.load("crunch_amp")  # a shipped model's name, or the path of any .nfx file
    out = amp(audio, 48000)            # audio: float32 (channels, samples) or 1-D mono
    amp.gain = 18                      # knobs are set (and read) as attributes, as Pedalboard's parameters

The C++ kernel does the work with the GIL released; each channel has its own state."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Optional

import numpy as np

from . import _core
from .errors import ModelFileError
from .audio import as_channels_first, check_buffer_size, check_finite, check_sample_rate
from .knobs import Knob
from .resampling import RateAdapter, converts, fit_length
from .threads import one_thread


class NeuralEffect:
    """A model file running in the C++ kernel; made by neuralfx.load(name_or_path).

    resample=False: audio at another rate than the model's raises ValueError.
    resample=True: audio is converted to the model's rate and back (streamed, windowed sinc).
    Knobs are attributes (`amp.gain = 18`, `amp.gain`), as Pedalboard's parameters are, where the
    knob's name is a Python name that the effect's own attributes do not take; set_knob and
    get_knob take any name. A copy (copy.copy, copy.deepcopy, pickle) is an effect of its own:
    the same model and knob settings, its own state, starting at rest."""

    # The attributes an effect holds besides its knobs; any other name set is a knob or an error.
    _OWN_ATTRIBUTES = frozenset({"name", "resample"})

    def __init__(self, model: "_core.Model", name: str = "", resample: bool = False, source: str = "") -> None:
        if not isinstance(model, _core.Model):
            raise TypeError(f"NeuralEffect takes a loaded kernel model, not a {type(model).__name__}: "
                            f"open a model file or a shipped model with neuralfx.load({model!r})")
        self._model = model
        self._source = source  # the model file's text, which copies are made from
        self.name = name
        self.resample = resample
        self._adapter: Optional[RateAdapter] = None
        self._stream_key: Optional[tuple[float, int]] = None  # the current stream's rate and channels
        self._stream_1d = False  # whether the current stream's calls were 1-D, so that flush() answers alike
        self._busy = threading.RLock()  # one_thread

    # ---- construction ----
    @classmethod
    def from_file(cls, path: str | os.PathLike, resample: bool = False) -> "NeuralEffect":
        """The model file at `path` (neuralfx.load also takes a shipped model's name)."""
        path = Path(path)
        try:  # read once: copies are made from the text the model was
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeError):
            _core.Model.from_file(str(path))  # the kernel's loader says what it is: missing, a folder, not JSON
            raise
        try:
            model = _core.Model.from_json(text)
        except ModelFileError as e:
            raise ModelFileError(f"'{path}': {e}") from None  # as the kernel's loader names the file
        return cls(model, name=path.stem, resample=resample, source=text)

    @classmethod
    def from_json(cls, text: str, name: str = "", resample: bool = False) -> "NeuralEffect":
        """A model file's text (JSON), as read from a .nfx file."""
        return cls(_core.Model.from_json(text), name=name, resample=resample, source=text)

    # ---- copies: their own model and state, the same settings ----
    def __reduce__(self) -> tuple:
        if not self._source:
            raise TypeError("this effect was made from a kernel model, whose file text it lacks: make it with "
                            "neuralfx.load, NeuralEffect.from_file or NeuralEffect.from_json to copy or pickle it")
        knobs = {k.name: self.get_knob(k.name) for k in self.knobs}
        return _rebuilt, (self._source, self.name, self.resample, knobs)

    def __copy__(self) -> "NeuralEffect":
        rebuild, args = self.__reduce__()
        return rebuild(*args)

    def __deepcopy__(self, memo: dict) -> "NeuralEffect":
        return self.__copy__()

    # ---- knobs as attributes ----
    def __getattr__(self, name: str) -> float:
        # Only called for names that are not the effect's own attributes.
        model = self.__dict__.get("_model")
        if model is not None and not name.startswith("_") and any(k["name"] == name for k in model.knobs):
            return model.get_knob(name)
        raise AttributeError(f"'NeuralEffect' object has no attribute or knob '{name}'{self._knob_list()}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or name in self._OWN_ATTRIBUTES or hasattr(type(self), name):
            object.__setattr__(self, name, value)  # a read-only property still refuses, as it should
        elif any(k.name == name for k in self.knobs):
            self.set_knob(name, value)
        else:  # as Pedalboard's plugins refuse a misspelt parameter
            raise AttributeError(f"'NeuralEffect' object has no knob '{name}'{self._knob_list()}")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {k.name for k in self.knobs if k.name.isidentifier()})

    def _knob_list(self) -> str:
        """The knob names as ' (knobs: gain, tone)', worded as the kernel's KeyError (cpp/python/bindings.cpp)."""
        model = self.__dict__.get("_model")
        names = [k["name"] for k in model.knobs] if model is not None else []
        return f" (knobs: {', '.join(names) or 'none'})"

    # ---- description ----
    @property
    def sample_rate(self) -> float:
        """The rate the model was trained at, in Hz."""
        return self._model.sample_rate

    @property
    def latency_samples(self) -> int:
        """The model's delay in samples at its own rate (0 for every architecture shipped)."""
        return self._model.latency_samples

    @property
    def tail_seconds(self) -> float:
        """How long the output may go on sounding after the input falls silent: a Delay's echoes
        until they fall 60 dB, at the longest time and strongest feedback its knobs allow; inf
        for never, 0 for models without one. Audio processed whole keeps the input's length, as
        in Pedalboard: append that much silence to hear the echoes out."""
        return self._model.tail_seconds

    @property
    def multiply_adds_per_sample(self) -> int:
        """Multiply-adds per sample of one channel by the model's weights (one per entry of its
        matrices and convolution taps; activations, biases and DSP blocks not counted): the
        arithmetic any implementation must do, which neuralfx-bench sets against the CPU's
        measured multiply-add rate."""
        return self._model.multiply_adds_per_sample

    @property
    def knobs(self) -> list[Knob]:
        """The model's knobs: name, range, default and unit each."""
        return [Knob(k["name"], k["min"], k["max"], k["default"], k["unit"]) for k in self._model.knobs]

    @property
    def metadata(self) -> dict[str, Any]:
        """What the model file says of itself: what it was trained on, its scores, its date."""
        return json.loads(self._model.metadata_json)

    def __repr__(self) -> str:
        knobs = ", ".join(f"{k.name}={self.get_knob(k.name):g}" for k in self.knobs)
        return f"<neuralfx.NeuralEffect {self.name!r} at {self.sample_rate:g} Hz{' ' + knobs if knobs else ''}>"

    # ---- knobs ----
    def set_knob(self, name: str, value: float) -> None:
        """Sets a knob in its own units; an out-of-range value is rejected, naming the range. The
        kernel glides to the new value, so a knob may move while audio streams."""
        knob = self._knob(name)
        try:  # a number, a numpy or torch scalar; not a string, None or a bool
            if isinstance(value, (str, bytes, bool, np.bool_)):
                raise TypeError
            given = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"{knob.describe()} takes a number, not {value!r}") from None
        # The kernel keeps knobs (and their ranges) in float32: a range starting at 0.1 reads back
        # as 0.100000001, and 0.1 itself was refused as outside it. Checked as the kernel holds it.
        stored = float(np.float32(given)) if abs(given) <= _FLOAT32_MAX else given
        knob.check(stored if knob.min <= stored <= knob.max else given)  # a refusal names the value given
        self._model.set_knob(name, stored)

    def get_knob(self, name: str) -> float:
        """A knob's value in its own units."""
        self._knob(name)
        return self._model.get_knob(name)

    def _knob(self, name: str) -> Knob:
        for k in self.knobs:
            if k.name == name:
                return k
        raise KeyError(f"model has no knob '{name}'{self._knob_list()}")

    # ---- processing ----
    @one_thread("effect")
    def reset(self) -> None:
        """Back to rest: the state the model settles into on silence at the current knob values."""
        if self._model.prepared_channels:
            self._model.reset()
        self._adapter = None

    @one_thread("effect")
    def process(
        self, input_array: np.ndarray, sample_rate: float, buffer_size: int = 8192, reset: bool = True
    ) -> np.ndarray:
        """Pedalboard's signature. With reset=False, state carries over from the previous call
        (streaming); when resampling, such a call may return a few samples fewer than it got and
        the next calls return them. Output has the input's layout (1-D in, 1-D out).
        With resampling, reset=True treats the array as one whole signal and flushes the rate
        converters with silence, as Pedalboard does for a plugin with latency; to stream at
        another rate, call reset() once, pass reset=False on every call, then flush().
        buffer_size bounds the samples the kernel processes at a time; the output does not
        depend on it. A call at another rate or channel count than the stream's starts a new
        stream from rest, as reset=True does (flush() first for the old stream's last samples)."""
        sample_rate = check_sample_rate(sample_rate)
        audio = as_channels_first(input_array, "input_array")
        check_finite(audio, "input_array")
        buffer_size = check_buffer_size(buffer_size)
        if sample_rate != self.sample_rate and not self.resample:  # before the stream is touched
            target = f"{self.sample_rate:.12g} Hz"
            advice = (f"pass resample=True (neuralfx.load(path, resample=True)) or resample the input to {target}"
                      if converts(sample_rate, self.sample_rate) else
                      f"resample the input to {target} (resample=True cannot convert between these rates)")
            raise ValueError(f"model was trained at {target}; input is {sample_rate:.12g} Hz: {advice}")
        channels = audio.shape[0]
        # A call at another rate mid-stream ran the old stream's model state behind a new rate
        # converter, and one at the model's rate left the old converter's tail for flush(): a new
        # rate or channel count starts a new stream, as in Chain.
        key = (float(sample_rate), channels)
        new_stream = reset or key != self._stream_key
        # The kernel's output does not depend on its block size, so only a new channel count
        # needs a prepare() (which clears state); buffer_size just bounds the work per chunk.
        if channels != self._model.prepared_channels:
            self._model.prepare(channels, min(buffer_size, _LARGEST_PREPARE))
        elif new_stream:
            self._model.reset()
        if new_stream:
            self._adapter = None
        self._stream_key = key
        if sample_rate == self.sample_rate:
            out = self._model.process(audio)
        else:
            out = self._process_resampled(audio, float(sample_rate), reset)
        self._stream_1d = input_array.ndim == 1
        return out[0] if self._stream_1d else out

    __call__ = process

    def _process_resampled(self, audio: np.ndarray, sample_rate: float, reset: bool) -> np.ndarray:
        if self._adapter is None:  # a new stream (process cleared it)
            self._adapter = RateAdapter(self._model.process, sample_rate, self.sample_rate, audio.shape[0])
        out = self._adapter.process(audio)
        if reset:
            # One whole signal: flush the converters and return exactly as many samples as came in.
            out = fit_length(np.concatenate([out, self._adapter.flush()], axis=1), audio.shape[1])
            self._adapter = None
        return out

    @one_thread("effect")
    def flush(self) -> np.ndarray:
        """The samples still inside the rate converters after a stream of reset=False calls, in
        the stream's layout (1-D after 1-D calls)."""
        if self._adapter is None:
            out = np.zeros((max(self._model.prepared_channels, 1), 0), np.float32)
        else:
            out = self._adapter.flush()
            self._adapter = None
        return out[0] if self._stream_1d else out


_FLOAT32_MAX = float(np.finfo(np.float32).max)
# The kernel takes a block size as a C int and clamps it to its own largest block anyway.
_LARGEST_PREPARE = 2**31 - 1


def _rebuilt(source: str, name: str, resample: bool, knobs: dict[str, float]) -> NeuralEffect:
    """An effect made again from a model file's text, with its knob settings (copies, pickle)."""
    effect = NeuralEffect.from_json(source, name=name, resample=resample)
    for knob, value in knobs.items():
        effect.set_knob(knob, value)
    return effect


def load(path: str | os.PathLike, resample: bool = False, **knobs: float) -> NeuralEffect:
    """Loads a model file (or the name of a shipped preset model) as a kernel-backed effect;
    keyword arguments set knobs, e.g. load("crunch_amp", gain=7)."""
    from .presets import resolve_model

    effect = NeuralEffect.from_file(resolve_model(path), resample=resample)
    for name, value in knobs.items():
        effect.set_knob(name, value)
    return effect
