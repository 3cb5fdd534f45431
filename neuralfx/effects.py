"""Kernel-backed effects with Pedalboard's calling convention.

    amp = neuralfx.load("presets/crunch_amp.nfx")
    out = amp(audio, 48000)            # audio: float32 (channels, samples) or 1-D mono

The C++ kernel does the work with the GIL released; each channel has its own state."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Optional

import numpy as np

from . import _core
from .audio import as_channels_first, check_buffer_size, check_finite, check_sample_rate
from .knobs import Knob
from .resampling import RateAdapter, fit_length
from .threads import one_thread


class NeuralEffect:
    """A model file running in the C++ kernel.

    resample=False: audio at another rate than the model's raises ValueError.
    resample=True: audio is converted to the model's rate and back (streamed, windowed sinc)."""

    def __init__(self, model: "_core.Model", name: str = "", resample: bool = False) -> None:
        self._model = model
        self.name = name
        self.resample = resample
        self._adapter: Optional[RateAdapter] = None
        self._adapter_key: Optional[tuple[float, int]] = None
        self._busy = threading.RLock()  # one_thread

    # ---- construction ----
    @classmethod
    def from_file(cls, path: str | os.PathLike, resample: bool = False) -> "NeuralEffect":
        path = Path(path)  # the kernel's loader says when it is missing, a folder or unreadable
        return cls(_core.Model.from_file(str(path)), name=path.stem, resample=resample)

    @classmethod
    def from_json(cls, text: str, name: str = "", resample: bool = False) -> "NeuralEffect":
        return cls(_core.Model.from_json(text), name=name, resample=resample)

    # ---- description ----
    @property
    def sample_rate(self) -> float:
        return self._model.sample_rate

    @property
    def latency_samples(self) -> int:
        return self._model.latency_samples

    @property
    def multiply_adds_per_sample(self) -> int:
        """Multiply-adds per sample of one channel by the model's weights (one per entry of its
        matrices and convolution taps; activations, biases and DSP blocks not counted): the
        arithmetic any implementation must do, which neuralfx-bench sets against the CPU's
        measured multiply-add rate."""
        return self._model.multiply_adds_per_sample

    @property
    def knobs(self) -> list[Knob]:
        return [Knob(k["name"], k["min"], k["max"], k["default"], k["unit"]) for k in self._model.knobs]

    @property
    def metadata(self) -> dict[str, Any]:
        return json.loads(self._model.metadata_json)

    def __repr__(self) -> str:
        knobs = ", ".join(f"{k.name}={self.get_knob(k.name):g}" for k in self.knobs)
        return f"<neuralfx.NeuralEffect {self.name!r} at {self.sample_rate:g} Hz{' ' + knobs if knobs else ''}>"

    # ---- knobs ----
    def set_knob(self, name: str, value: float) -> None:
        """Sets a knob in its own units; an out-of-range value is rejected, naming the range."""
        knob = self._knob(name)
        self._model.set_knob(name, knob.check(float(value)))

    def get_knob(self, name: str) -> float:
        self._knob(name)
        return self._model.get_knob(name)

    def _knob(self, name: str) -> Knob:
        for k in self.knobs:
            if k.name == name:
                return k
        raise KeyError(f"model has no knob '{name}' (knobs: {', '.join(k.name for k in self.knobs) or 'none'})")

    # ---- processing ----
    @one_thread("effect")
    def reset(self) -> None:
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
        another rate, call reset() once, pass reset=False on every call, then flush()."""
        sample_rate = check_sample_rate(sample_rate)
        audio = as_channels_first(input_array, "input_array")
        check_finite(audio, "input_array")
        buffer_size = check_buffer_size(buffer_size)
        channels = audio.shape[0]
        # The kernel's output does not depend on its block size, so only a new channel count
        # needs a prepare() (which clears state); buffer_size just bounds the work per chunk.
        if channels != self._model.prepared_channels:
            self._model.prepare(channels, buffer_size)
            self._adapter = None
        elif reset:
            self._model.reset()
        if sample_rate == self.sample_rate:
            out = self._model.process(audio)
        elif not self.resample:
            raise ValueError(
                f"model was trained at {self.sample_rate:g} Hz; input is {sample_rate:g} Hz: pass resample=True "
                f"(neuralfx.load(path, resample=True)) or resample the input to {self.sample_rate:g} Hz"
            )
        else:
            out = self._process_resampled(audio, float(sample_rate), reset)
        return out[0] if input_array.ndim == 1 else out

    __call__ = process

    def _process_resampled(self, audio: np.ndarray, sample_rate: float, reset: bool) -> np.ndarray:
        key = (sample_rate, audio.shape[0])
        if reset or self._adapter is None or self._adapter_key != key:
            self._adapter = RateAdapter(self._model.process, sample_rate, self.sample_rate, audio.shape[0])
            self._adapter_key = key
        out = self._adapter.process(audio)
        if reset:
            # One whole signal: flush the converters and return exactly as many samples as came in.
            out = fit_length(np.concatenate([out, self._adapter.flush()], axis=1), audio.shape[1])
            self._adapter = None
        return out

    @one_thread("effect")
    def flush(self) -> np.ndarray:
        """The samples still inside the rate converters after a stream of reset=False calls."""
        if self._adapter is None:
            return np.zeros((max(self._model.prepared_channels, 1), 0), np.float32)
        out = self._adapter.flush()
        self._adapter = None
        return out


def load(path: str | os.PathLike, resample: bool = False, **knobs: float) -> NeuralEffect:
    """Loads a model file (or the name of a shipped preset model) as a kernel-backed effect;
    keyword arguments set knobs, e.g. load("crunch_amp", gain=7)."""
    from .presets import resolve_model

    effect = NeuralEffect.from_file(resolve_model(path), resample=resample)
    for name, value in knobs.items():
        effect.set_knob(name, value)
    return effect
