"""Chains that mix Pedalboard plugins and neuralfx effects, and streamed file processing.

    chain = neuralfx.Chain([pedalboard.NoiseGate(threshold_db=-60), neuralfx.load("crunch_amp"),
                            pedalboard.Reverb(room_size=0.3)])
    chain.process_file("in.wav", "out.wav")

A chain preset (presets/*.chain.json) names the same stages as data:
    {"name": ..., "description": ..., "stages": [
        {"plugin": "NoiseGate", "params": {"threshold_db": -60}},
        {"model": "crunch_amp", "knobs": {}},
        {"plugin_file": "plugins/Amp.vst3", "params": {"drive": 6, "mode": "Lead"}},
        {"plugin": "Reverb", "params": {"room_size": 0.3}}]}

"plugin" names a Pedalboard built-in; "plugin_file" a VST3 (or, on macOS, AU) plugin, its path
relative to the preset's folder, its parameters by the names Pedalboard gives them
(`pedalboard.load_plugin(path).parameters`), set as attributes are (Pedalboard quantizes a
float parameter to about 1000 steps of its range), or as {"raw": 0..1}, the plugin's own
normalized value. Pedalboard converts a value with the range it read when the plugin loaded;
a plugin whose ranges follow another parameter (NeuralFX.vst3's knob slots follow its model)
then takes another value than asked, which is refused: give such a parameter raw.
"""

from __future__ import annotations

import copy
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import pedalboard

from .audio import (as_channels_first, atomic_output, check_buffer_size, check_finite, check_sample_rate,
                    no_frames, open_input)
from .effects import NeuralEffect, load
from .files import read_json
from .presets import resolve_chain
from .resampling import RateAdapter, converts, fit_length
from .streaming import Stage, StageChain
from .threads import one_thread


@dataclass
class FileReport:
    """What Chain.process_file (and `neuralfx process`) did: the file's rate, channels and
    length; the rate the chain ran at when it converted; the output's format, and how many
    samples that format clipped (beyond full scale: FLAC, AIFF, MP3 and OGG; never WAV)."""

    input_path: Path
    output_path: Path
    sample_rate: float
    channels: int
    frames: int
    resampled_to: Optional[float]
    format: str = ""  # as written, e.g. "FLAC, 24-bit"
    clipped: int = 0  # samples beyond full scale the output format clipped


class Chain:
    """Stages run in order on the same audio: Pedalboard plugins (built-in ones, loaded VST3s,
    pedalboard.Pedalboard chains) and neuralfx effects, called as one Pedalboard plugin is.
    Each stage instance keeps its own state, so it may appear once in one chain; used in two
    chains, it belongs to whichever streams through it (give each chain its own). The models'
    rate is the chain's: audio at another rate is refused, or with resample=True converted once
    around all the stages. A copy or a pickle holds copies of the neuralfx stages, at rest
    (Pedalboard's plugins cannot be copied: a chain holding one is refused)."""

    def __init__(self, stages: Sequence[Stage], resample: bool = False, name: str = "") -> None:
        # id -> (stage index, instance): the instance is kept, since Pedalboard hands out a new
        # wrapper per look, and a freed one's id can come back for another plugin.
        seen: dict[int, tuple[int, Any]] = {}
        for i, stage in enumerate(stages):
            if not isinstance(stage, (pedalboard.Plugin, NeuralEffect)):
                raise TypeError(f"stage {i} is a {type(stage).__name__}; expected a pedalboard plugin or a NeuralEffect")
            _refuse_silent_streamers(i, stage)
            for instance in _instances(stage):
                if id(instance) in seen:  # Pedalboard refuses it too, when it runs: the two places would share one state
                    raise ValueError(
                        f"stages {seen[id(instance)][0]} and {i} hold the same {type(instance).__name__} instance; "
                        "each place needs its own, with its own state (load the model again, or make another plugin)")
                seen[id(instance)] = (i, instance)
        self.stages = list(stages)
        self.resample = resample
        self.name = name
        rates = {s.sample_rate for s in self.stages if isinstance(s, NeuralEffect)}
        if len(rates) > 1:
            # One converter runs around all stages (make_stream), so the models must share a rate.
            raise ValueError(f"the chain's models were trained at different rates {sorted(rates)}: a Chain converts "
                             "the audio once, to one model rate; run a Chain per model rate one after the other "
                             "(each with resample=True), or train the models at one rate")
        self.model_rate: Optional[float] = rates.pop() if rates else None
        self._stream: Optional[Union[StageChain, RateAdapter]] = None
        self._stream_key: Optional[tuple[float, int]] = None
        self._stream_1d = False  # whether the current stream's calls were 1-D, so that flush() answers alike
        self._busy = threading.RLock()  # one_thread

    @classmethod
    def from_preset(cls, name_or_path: str | os.PathLike, resample: bool = False) -> "Chain":
        """A shipped chain preset by name (e.g. "default"), or a .chain.json file (module docstring)."""
        path = resolve_chain(name_or_path)
        doc = read_json(path, "chain preset")
        stages_doc = doc.get("stages") if isinstance(doc, dict) else None
        if not isinstance(stages_doc, list) or not stages_doc:
            raise ValueError(f"chain preset '{path}': 'stages' must be a non-empty list")
        stages = [_stage_from_json(s, i, path.parent) for i, s in enumerate(stages_doc)]
        return cls(stages, resample=resample, name=doc.get("name", path.stem))

    # ---- copies and pickles: stages copied as they copy themselves, the copy at rest ----
    def __getstate__(self) -> dict[str, Any]:
        unpicklable = [f"stage {i} ({type(s).__name__})" for i, s in enumerate(self.stages) if isinstance(s, pedalboard.Plugin)]
        if unpicklable:  # Pedalboard's plugins refuse with "cannot pickle 'pedalboard_native.Reverb' object"
            raise TypeError(f"a Chain copies or pickles its stages, and Pedalboard's plugins cannot be: "
                            f"{', '.join(unpicklable)}; build the chain again where it is needed")
        return {"stages": self.stages, "resample": self.resample, "name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["stages"], resample=state["resample"], name=state["name"])

    def __copy__(self) -> "Chain":
        return copy.deepcopy(self)  # sharing the stages would share their state, as Chain([amp, amp]) did

    def __repr__(self) -> str:
        return f"<neuralfx.Chain {self.name!r}: {' -> '.join(type(s).__name__ for s in self.stages)}>"

    @one_thread("chain")
    def reset(self) -> None:
        """Every stage back to rest, and any stream ended without its held samples."""
        for stage in self.stages:
            stage.reset()
        self._stream = None

    def _new_stream(self, sample_rate: float, channels: int, buffer_size: int,
                    file: Optional[Path] = None) -> Union[StageChain, RateAdapter]:
        """Every stage streamed (streaming.py), wrapped in one rate converter when the audio's
        rate is not the models' rate; process() chunks, then flush() once for the rest."""
        for i, stage in enumerate(self.stages):  # also what was put into a container after __init__
            _refuse_silent_streamers(i, stage)
        if self.model_rate is None or sample_rate == self.model_rate:
            return StageChain(self.stages, sample_rate, channels, buffer_size)
        if not self.resample:
            # The chain converts once around all its stages, so an effect's own flag cannot act here.
            own_flag = any(getattr(s, "resample", False) is True for s in self.stages)
            subject = "the model" if len(self.stages) == 1 else "the chain's model"
            rate = f"{self.model_rate:.12g} Hz"
            # A file is processed by `neuralfx process` or process_file, whose user may never have
            # made a Chain; audio in memory also comes from a capture at its --sample-rate.
            advice = (f"pass --resample (neuralfx process; from Python Chain(..., resample=True)) or convert "
                      f"the file to {rate}" if file is not None else
                      f"pass resample=True to the Chain or give it audio at {rate} (neuralfx capture: "
                      f"--sample-rate {self.model_rate:.12g})")
            if not converts(sample_rate, self.model_rate):
                advice = f"give it audio at {rate} (resample=True cannot convert between these rates)"
            raise ValueError(
                f"{subject} was trained at {rate}; {f'{file.name!r}' if file is not None else 'input'} is "
                f"{sample_rate:.12g} Hz: {advice}"
                + (" (an effect's own resample=True does not carry into a chain)" if own_flag else "")
            )
        inner = StageChain(self.stages, self.model_rate, channels, buffer_size)
        return RateAdapter(inner.process, sample_rate, self.model_rate, channels, flush_inner=inner.flush)

    @one_thread("chain")
    def process(self, input_array: np.ndarray, sample_rate: float, buffer_size: int = 8192, reset: bool = True) -> np.ndarray:
        """Pedalboard's signature. reset=True: the whole array is one signal, through every stage
        (plugins' latency compensated, rate converters flushed with silence), same length out.
        reset=False streams: state carries over from the previous call, and a call may return
        fewer samples than it got when a stage or the rate conversion holds some back; flush()
        returns them. A Pedalboard plugin stage holds the stream's start until it has
        min(FIRST_CHUNK_SAMPLES, buffer_size) samples and more than the channel count
        (streaming.py: Pedalboard restarts a plugin fed a longer chunk than its first), so a
        real-time caller passes its block size as buffer_size. To stream, call reset() once,
        pass reset=False on every call, then flush().
        A stream keeps the buffer_size of its first call (a later one would restart the stages
        and drop what they hold); a new rate or channel count starts a new stream."""
        sample_rate = check_sample_rate(sample_rate)
        buffer_size = check_buffer_size(buffer_size)  # every call: a running stream keeps its first one
        audio = as_channels_first(input_array, "input_array")
        check_finite(audio, "input_array")
        key = (sample_rate, audio.shape[0])
        if reset or self._stream is None or self._stream_key != key:
            stream = self._new_stream(*key, buffer_size)  # first: a call refused leaves a running stream as it was
            self.reset()
            self._stream, self._stream_key = stream, key
        out = self._stream.process(audio)
        if reset:
            out = fit_length(np.concatenate([out, self._end_stream()], axis=1), audio.shape[1])
        self._stream_1d = input_array.ndim == 1
        return out[0] if self._stream_1d else out

    __call__ = process

    @one_thread("chain")
    def flush(self) -> np.ndarray:
        """Ends a stream of reset=False calls: the samples the stages and converters still hold,
        in the stream's layout (1-D after 1-D calls)."""
        out = self._end_stream()
        return out[0] if self._stream_1d else out

    def _end_stream(self) -> np.ndarray:
        if self._stream is None:  # in the last stream's channel count, so that it concatenates with it
            return no_frames(self._stream_key[1] if self._stream_key else 1)
        out = self._stream.flush()
        self._stream = None
        return out

    @one_thread("chain")
    def process_file(self, input_path: str | os.PathLike, output_path: str | os.PathLike, buffer_size: int = 8192) -> FileReport:
        """Streams a file through the chain in blocks of `buffer_size` frames. The output has the
        input's rate, channel count and length, and appears only once complete."""
        input_path, output_path = Path(input_path), Path(output_path)
        if input_path.resolve() == output_path.resolve():
            raise ValueError("output path is the input path: write to another file")
        with open_input(input_path) as f:
            rate, channels, frames = float(f.samplerate), int(f.num_channels), int(f.frames)
            stream = self._new_stream(rate, channels, buffer_size, input_path)
            self.reset()
            written = 0
            with atomic_output(output_path, rate, channels) as out:
                def write(y: np.ndarray) -> None:
                    # A model whose weights overflow float32 on this input (both readers take any
                    # finite float32 weight) wrote a file of NaN and said nothing.
                    check_finite(y, "the chain's output", first_frame=written, advice=(
                        f"a stage overflows on this input (a model with huge weights, or gains adding up): "
                        f"'{output_path}' was not written"))
                    out.write(y)

                while f.tell() < frames:
                    chunk = f.read(buffer_size)
                    check_finite(chunk, f"'{input_path}'", first_frame=f.tell() - chunk.shape[1])
                    y = stream.process(chunk)[:, : frames - written]
                    write(y)
                    written += y.shape[1]
                # A round trip through another rate may give a sample more: the file keeps the input's length.
                write(fit_length(stream.flush(), frames - written))
        return FileReport(input_path, output_path, rate, channels, frames,
                          self.model_rate if isinstance(stream, RateAdapter) else None, out.format, out.clipped)


def _refuse_silent_streamers(index: int, stage: Stage) -> None:
    """ValueError for a stage that is or holds pedalboard.PitchShift, which returns silence when
    streamed in blocks (Pedalboard 0.9.26: zeros at every block length with reset=False)."""
    if any(isinstance(instance, pedalboard.PitchShift) for instance in _instances(stage)):
        raise ValueError(
            f"stage {index} is or holds pedalboard.PitchShift, which returns silence when streamed in blocks "
            "(Pedalboard 0.9.26: zeros at every block length with reset=False), and a Chain streams: "
            "run it on the whole array with pedalboard.Pedalboard([...])(audio, sample_rate)")


def _instances(stage: Stage) -> list[Any]:
    """A stage and, for a Pedalboard container (Pedalboard, Chain, Mix), every plugin inside it."""
    if isinstance(stage, pedalboard.PluginContainer):
        return [stage] + [p for inner in stage for p in _instances(inner)]
    return [stage]


# A stage's kind (its first key found here, in this order) and the one other key it takes.
STAGE_KEYS = {"plugin": "params", "plugin_file": "params", "model": "knobs"}


def _stage_from_json(doc: Any, index: int, base: Path) -> Stage:
    where = f"stages[{index}]"
    if not isinstance(doc, dict):
        raise ValueError(f"{where}: expected an object")
    kind = next((k for k in STAGE_KEYS if k in doc), None)
    if kind is None:
        raise ValueError(f"{where}: expected a 'plugin', 'plugin_file' or 'model' key")
    # A misspelt key ("parms") left the stage at its defaults without a word.
    unknown = sorted(set(doc) - {kind, STAGE_KEYS[kind]})
    if unknown:
        raise ValueError(f"{where}: unknown key {', '.join(repr(k) for k in unknown)} (a '{kind}' stage holds "
                         f"'{kind}' and '{STAGE_KEYS[kind]}')")
    if kind == "plugin":
        cls = getattr(pedalboard, str(doc["plugin"]), None)
        if not (isinstance(cls, type) and issubclass(cls, pedalboard.Plugin)):
            raise ValueError(f"{where}.plugin: '{doc['plugin']}' is not a Pedalboard plugin class")
        if issubclass(cls, pedalboard.ExternalPlugin):  # its constructor cannot take swept parameters
            raise ValueError(f"{where}.plugin: a {doc['plugin']} is given as {{\"plugin_file\": PATH, \"params\": "
                             "{NAME: VALUE}}")
        params = doc.get("params", {})
        try:
            return cls(**params)
        except TypeError as e:
            raise ValueError(f"{where}.params: {_unknown_params(cls, params) or e}") from None
        except ValueError as e:  # a value out of the parameter's range
            raise ValueError(f"{where}.params: {e}") from None
    if kind == "plugin_file":
        path = _beside(base, doc["plugin_file"])
        if not path.exists():
            raise ValueError(f"{where}.plugin_file: '{doc['plugin_file']}' is neither in the preset's folder ({base}) "
                             f"nor at that path from {Path.cwd()}")
        return plugin_from_file(path, doc.get("params", {}), where)
    knobs = doc.get("knobs", {})
    if not isinstance(knobs, dict):
        raise ValueError(f"{where}.knobs: expected an object {{NAME: VALUE}}")
    effect = load(_beside(base, doc["model"]))
    for name, value in knobs.items():
        try:
            effect.set_knob(name, value)
        except KeyError as e:  # its text is the message; str() of a KeyError quotes it
            raise ValueError(f"{where}.knobs: {e.args[0]}") from None
        except (TypeError, ValueError) as e:
            raise ValueError(f"{where}.knobs.{name}: {e}") from None
    return effect


def _unknown_params(cls: type, params: Any) -> str:
    """What pybind11's constructor message buries: the names a built-in plugin does not have
    ("" when none, or when the class cannot be built bare to look: Convolution needs its file)."""
    try:
        cls()
    except Exception:  # noqa: BLE001 - TypeError for Convolution, RuntimeError for IIRFilter
        return ""
    names = sorted(n for n, v in vars(cls).items() if isinstance(v, property) and not n.startswith("_"))
    unknown = [n for n in (params if isinstance(params, dict) else {}) if n not in names]
    if not unknown:
        return ""
    known = f"its parameters: {', '.join(names)}" if names else "it has no parameters"
    return f"{cls.__name__} has no parameter {', '.join(unknown)} ({known})"


def stages_with_paths(stages: Sequence[Any], base: Path) -> list:
    """Stage documents with each file they name given as the absolute path it was found at
    (from `base`), so that a record of them means something away from the preset's folder;
    shipped model names stay names."""
    out = []
    for doc in stages:
        doc = dict(doc) if isinstance(doc, dict) else doc
        for key in ("plugin_file", "model"):
            found = _beside(base, doc[key]) if isinstance(doc, dict) and key in doc else None
            if found is not None and found.exists():
                doc[key] = str(found.resolve())
        out.append(doc)
    return out


def _beside(base: Path, name: Any) -> Path:
    """A stage's file: relative to the preset's folder when it is there, else as given."""
    path = Path(str(name))
    candidate = base / path if not path.is_absolute() else path
    return candidate if candidate.exists() else path


def plugin_from_file(path: Path, params: Any, where: str = "plugin", params_where: Optional[str] = None
                     ) -> pedalboard.Plugin:
    """A VST3/AU plugin loaded by Pedalboard with `params` set by name (values, or {"raw": 0..1}).
    Errors name the plugin `where` and a parameter `params_where NAME` (default where.params.NAME)."""
    def label(name: str) -> str:
        return f"{params_where} {name}" if params_where else f"{where}.params.{name}"

    if not path.exists():
        raise ValueError(f"{where}: plugin '{path}' does not exist: give the path of a .vst3 bundle (or an "
                         ".component on macOS)")
    if not isinstance(params, dict):
        raise ValueError(f"{params_where or where + '.params'}: expected an object {{NAME: VALUE}}")
    try:
        plugin = pedalboard.load_plugin(str(path))
    except ImportError as e:
        raise ValueError(f"{where}: plugin '{path}' could not be loaded as VST3/AU ({e})") from None
    unknown = sorted(set(params) - set(plugin.parameters))
    if unknown:
        raise ValueError(f"{params_where or where + '.params'}: {Path(path).name} has no parameter "
                         f"{', '.join(unknown)} (its parameters: {', '.join(plugin.parameters)})")
    for name, value in params.items():
        try:
            if isinstance(value, dict):
                _set_raw(plugin.parameters[name], value)
            else:
                setattr(plugin, name, value)
                _check_taken(plugin, name, value)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{label(name)}: {e}") from None
    return plugin


def _set_raw(param: Any, value: dict) -> None:
    raw = value.get("raw")
    if set(value) != {"raw"} or isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 <= raw <= 1:
        raise ValueError(f"expected a value or {{\"raw\": 0..1}}, got {value}")
    param.raw_value = float(raw)


def _check_taken(plugin: pedalboard.Plugin, name: str, value: Any) -> None:
    """Refuses a number the plugin did not take (beyond Pedalboard's quantization): Pedalboard
    converted it with the range it read at load, which another parameter has changed since."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return  # choices and switches: Pedalboard checks them against the valid values
    param = plugin.parameters[name]
    if param.min_value is None or param.max_value is None:
        return  # not a range Pedalboard converts through
    taken = float(getattr(plugin, name))
    step = max(float(param.approximate_step_size or 0.0), (float(param.max_value) - float(param.min_value)) / 1000)
    if abs(taken - value) > 2 * step + 1e-6:
        raise ValueError(f"set to {value:g}, the plugin took {taken:g} ({param.string_value}): Pedalboard converts a "
                         f"value with the range it read when the plugin loaded ({float(param.min_value):g} to "
                         f"{float(param.max_value):g}), and another parameter has changed it since; give it as "
                         "{\"raw\": 0..1} (on the command line NAME=raw:0..1)")
