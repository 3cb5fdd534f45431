"""Chains that mix Pedalboard plugins and neuralfx effects, and streamed file processing.

    chain = neuralfx.Chain([pedalboard.NoiseGate(threshold_db=-60), neuralfx.load("crunch_amp"),
                            pedalboard.Reverb(room_size=0.3)])
    chain.process_file("in.wav", "out.wav")

A chain preset (presets/*.chain.json) names the same stages as data:
    {"name": ..., "description": ..., "stages": [
        {"plugin": "NoiseGate", "params": {"threshold_db": -60}},
        {"model": "crunch_amp", "knobs": {}},
        {"plugin": "Reverb", "params": {"room_size": 0.3}}]}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import pedalboard

from .audio import as_channels_first, atomic_output, check_finite, open_input
from .effects import NeuralEffect, load
from .presets import resolve_chain
from .resampling import RateAdapter, fit_length

Stage = Union[pedalboard.Plugin, NeuralEffect]


@dataclass
class FileReport:
    input_path: Path
    output_path: Path
    sample_rate: float
    channels: int
    frames: int
    resampled_to: Optional[float]


class Chain:
    def __init__(self, stages: Sequence[Stage], resample: bool = False, name: str = "") -> None:
        for i, stage in enumerate(stages):
            if not isinstance(stage, (pedalboard.Plugin, NeuralEffect)):
                raise TypeError(f"stage {i} is a {type(stage).__name__}; expected a pedalboard plugin or a NeuralEffect")
        self.stages = list(stages)
        self.resample = resample
        self.name = name
        rates = {s.sample_rate for s in self.stages if isinstance(s, NeuralEffect)}
        if len(rates) > 1:
            raise ValueError(f"the chain's models were trained at different rates {sorted(rates)}; use one rate")
        self.model_rate: Optional[float] = rates.pop() if rates else None

    @classmethod
    def from_preset(cls, name_or_path: str | os.PathLike, resample: bool = False) -> "Chain":
        path = resolve_chain(name_or_path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"chain preset '{path}' is not valid JSON: {e}") from None
        stages_doc = doc.get("stages") if isinstance(doc, dict) else None
        if not isinstance(stages_doc, list) or not stages_doc:
            raise ValueError(f"chain preset '{path}': 'stages' must be a non-empty list")
        stages = [_stage_from_json(s, i, path.parent) for i, s in enumerate(stages_doc)]
        return cls(stages, resample=resample, name=doc.get("name", path.stem))

    def __repr__(self) -> str:
        return f"<neuralfx.Chain {self.name!r}: {' -> '.join(type(s).__name__ for s in self.stages)}>"

    def reset(self) -> None:
        for stage in self.stages:
            stage.reset()

    def _run_stages(self, audio: np.ndarray, sample_rate: float, buffer_size: int, reset: bool) -> np.ndarray:
        for stage in self.stages:
            audio = stage.process(audio, sample_rate, buffer_size=buffer_size, reset=reset)
        return audio

    def _processor(self, sample_rate: float, channels: int, buffer_size: int) -> tuple[Callable[[np.ndarray], np.ndarray], Optional[RateAdapter]]:
        """The function that streams one chunk through every stage without resetting, wrapped in
        one rate converter when the audio's rate is not the models' rate."""
        if self.model_rate is None or sample_rate == self.model_rate:
            return (lambda chunk: self._run_stages(chunk, sample_rate, buffer_size, reset=False)), None
        if not self.resample:
            raise ValueError(
                f"the chain's model was trained at {self.model_rate:g} Hz; input is {sample_rate:g} Hz: "
                "pass resample=True (--resample on the command line)"
            )
        inner_rate = self.model_rate
        adapter = RateAdapter(lambda chunk: self._run_stages(chunk, inner_rate, buffer_size, reset=False),
                              sample_rate, inner_rate, channels)
        return adapter.process, adapter

    def process(self, input_array: np.ndarray, sample_rate: float, buffer_size: int = 8192, reset: bool = True) -> np.ndarray:
        """Pedalboard's signature: the whole array through every stage, same length out."""
        audio = as_channels_first(input_array, "input_array")
        check_finite(audio, "input_array")
        if reset:
            self.reset()
        run, adapter = self._processor(float(sample_rate), audio.shape[0], buffer_size)
        out = run(audio)
        if adapter is not None:
            out = fit_length(np.concatenate([out, adapter.flush()], axis=1), audio.shape[1])
        return out[0] if input_array.ndim == 1 else out

    __call__ = process

    def process_file(self, input_path: str | os.PathLike, output_path: str | os.PathLike, buffer_size: int = 8192) -> FileReport:
        """Streams a file through the chain in blocks of `buffer_size` frames. The output has the
        input's rate, channel count and length, and appears only once complete."""
        input_path, output_path = Path(input_path), Path(output_path)
        if input_path.resolve() == output_path.resolve():
            raise ValueError("output path is the input path: write to another file")
        with open_input(input_path) as f:
            rate, channels, frames = float(f.samplerate), int(f.num_channels), int(f.frames)
            self.reset()
            run, adapter = self._processor(rate, channels, buffer_size)
            written = 0
            with atomic_output(output_path, rate, channels) as out:
                while f.tell() < frames:
                    chunk = f.read(buffer_size)
                    check_finite(chunk, f"'{input_path}' (block at frame {f.tell() - chunk.shape[1]})")
                    y = run(chunk)
                    out.write(y)
                    written += y.shape[1]
                if adapter is not None:
                    tail = fit_length(adapter.flush(), max(frames - written, 0))
                    out.write(tail)
        return FileReport(input_path, output_path, rate, channels, frames,
                          self.model_rate if adapter is not None else None)


def _stage_from_json(doc: Any, index: int, base: Path) -> Stage:
    where = f"stages[{index}]"
    if not isinstance(doc, dict):
        raise ValueError(f"{where}: expected an object")
    if "plugin" in doc:
        cls = getattr(pedalboard, str(doc["plugin"]), None)
        if not (isinstance(cls, type) and issubclass(cls, pedalboard.Plugin)):
            raise ValueError(f"{where}.plugin: '{doc['plugin']}' is not a Pedalboard plugin class")
        try:
            return cls(**doc.get("params", {}))
        except TypeError as e:
            raise ValueError(f"{where}.params: {e}") from None
    if "model" in doc:
        model = Path(doc["model"])
        candidate = base / model if not model.is_absolute() else model
        return load(candidate if candidate.exists() else model, **doc.get("knobs", {}))
    raise ValueError(f"{where}: expected a 'plugin' or a 'model' key")
