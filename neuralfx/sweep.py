"""Knob captures: a device recorded at a grid of settings, for one knob-conditioned model.

A sweep ties a model knob to one parameter of one stage of a chain (a Pedalboard plugin's
parameter, or a neuralfx model's knob) and lists the values to train on and the values to hold
out (scored after training, never trained on). Several sweeps make a grid: every combination.
The same schema serves the recipes in training/recipes/ ("knobs") and the capture manifest that
`neuralfx capture --sweep` writes and `neuralfx train --manifest` reads:

    {"format": "neuralfx-capture-manifest", "version": 1, "sample_rate": 48000, "recorded": false,
     "device": [{"plugin": "Distortion", "params": {"drive_db": 6}}],
     "knobs": [{"name": "drive_db", "min": 0, "max": 12, "default": 6, "unit": "dB",
                "controls": {"stage": 0, "param": "drive_db"},
                "train_values": [0, 4, 8, 12], "heldout_values": [2, 10]}],
     "captures": [{"input": "input.wav", "target": "target_000.wav", "settings": {"drive_db": 0},
                   "heldout": false}, ...]}

Names, ranges and defaults in a manifest may be edited before training (the range must hold
every captured value; a renamed knob is renamed in every capture's settings too)."""

from __future__ import annotations

import copy
import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import pedalboard

from .capture import SIGNAL_VERSION, CapturePair, capture_signal, run_device
from .knobs import Knob

MANIFEST_FORMAT = "neuralfx-capture-manifest"
MANIFEST_VERSION = 1
MANIFEST_NAME = "manifest.json"
# Held-out settings are scored over a capture made with another seed (its noise, notes and chords
# differ from the training captures'; its clicks and sine sweeps do not), at most this long:
# scoring runs the kernel once per setting.
HELDOUT_MAX_SECONDS = 60.0
# Units shown for a knob, guessed from Pedalboard's parameter-name suffixes.
UNIT_SUFFIXES = {"_db": "dB", "_hz": "Hz", "_ms": "ms", "_seconds": "s"}


@dataclass(frozen=True)
class KnobSweep:
    knob: Knob
    stage: int
    param: str
    train_values: tuple[float, ...]
    heldout_values: tuple[float, ...] = ()
    # The values are a plugin parameter's raw 0..1 host values ({"raw": v} in a stage's params):
    # for a parameter whose range another one changes, which Pedalboard converts through the
    # range it read at load.
    raw: bool = False

    @classmethod
    def from_json(cls, doc: Any, where: str) -> "KnobSweep":
        try:
            controls = doc["controls"]
            raw = controls.get("raw", False)
            if not isinstance(raw, bool):
                raise ValueError(f"controls.raw must be true or false, got {raw!r}")
            sweep = cls(Knob(str(doc["name"]), float(doc["min"]), float(doc["max"]), float(doc["default"]),
                             str(doc.get("unit", ""))),
                        int(controls["stage"]), str(controls["param"]),
                        tuple(float(v) for v in doc["train_values"]),
                        tuple(float(v) for v in doc.get("heldout_values", [])), raw)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError(f"{where}: expected name, min, max, default, controls {{stage, param, optional raw}}, "
                             f"train_values (and optional unit, heldout_values); problem: {e!r}") from None
        # Out of range, the default was refused only when the trained model was first loaded, as
        # "knobs[0].default: outside [min, max]", naming neither the manifest nor the values.
        try:
            sweep.knob.check(sweep.knob.default)
        except ValueError as e:
            raise ValueError(f"{where}: default: {e}; change the default or widen min/max") from None
        for v in sweep.train_values + sweep.heldout_values:
            try:
                sweep.knob.check(v)
            except ValueError as e:
                raise ValueError(f"{where}: {e}; widen min/max") from None
        return sweep

    def to_json(self) -> dict:
        k = self.knob
        return {"name": k.name, "min": k.min, "max": k.max, "default": k.default, "unit": k.unit,
                "controls": {"stage": self.stage, "param": self.param, **({"raw": True} if self.raw else {})},
                "train_values": list(self.train_values), "heldout_values": list(self.heldout_values)}


def parse_values(spec: str, option: str) -> tuple[int, str, tuple[float, ...], bool]:
    """'STAGE.PARAM=V1,V2,...' (e.g. '1.drive_db=0,4,8,12') as (stage, param, values, raw); raw:
    every value written raw:V, a plugin parameter's 0..1 host value."""
    target, sep, values = spec.partition("=")
    stage, dot, param = target.partition(".")
    items = [v.strip() for v in values.split(",")]
    raw = [v.startswith("raw:") for v in items]
    try:
        if not (sep and dot and param) or any(raw) != all(raw):
            raise ValueError
        return int(stage), param, tuple(float(v[len("raw:"):] if all(raw) else v) for v in items), all(raw)
    except ValueError:
        raise ValueError(f"{option} expects STAGE.PARAM=V1,V2,... (e.g. 1.drive_db=0,4,8,12), or a plugin "
                         f"parameter's raw 0..1 values as STAGE.PARAM=raw:V1,raw:V2,...; got '{spec}'") from None


def sweeps_from_specs(stages: list[dict], base: Path, sweeps: Sequence[str],
                      heldout: Sequence[str] = ()) -> list[KnobSweep]:
    """Sweeps from command-line specs: each knob is named after its parameter (with the stage
    index when two stages share a name), ranges over all its values, and defaults to the
    chain's own setting when that lies in range (else the middle)."""
    parsed = [parse_values(s, "--sweep") for s in sweeps]
    held = {}
    for spec in heldout:
        stage, param, values, raw = parse_values(spec, "--heldout")
        swept = next((r for s, p, _, r in parsed if (s, p) == (stage, param)), None)
        if swept is None:
            raise ValueError(f"--heldout {spec}: {stage}.{param} is not swept; add --sweep {stage}.{param}=...")
        if raw != swept:
            raise ValueError(f"--heldout {spec}: give the values as the --sweep of {stage}.{param} gives them "
                             f"({'raw:V' if swept else 'plain numbers'})")
        held[(stage, param)] = values
    params = [p for _, p, _, _ in parsed]
    if len(set(zip([s for s, _, _, _ in parsed], params))) != len(parsed):
        raise ValueError("--sweep names one parameter twice: give each STAGE.PARAM once")
    chain = device_at(stages, [], {}, base)
    result = []
    for stage, param, values, raw in parsed:
        if not 0 <= stage < len(stages):
            raise ValueError(f"--sweep {stage}.{param}: the device has stages 0..{len(stages) - 1} (a --plugin is "
                             "stage 0)")
        if len(set(values)) < 2:
            raise ValueError(f"--sweep {stage}.{param}: give at least two different values to condition a knob on")
        lo, hi = min(values), max(values)
        for v in held.get((stage, param), ()):
            # One trained on scored as "never trained on"; one outside widened the knob's range
            # past every value trained, which the model file then offered.
            if v in values or not lo < v < hi:
                raise ValueError(f"--heldout {stage}.{param}={v:g}: held-out values lie between the swept values "
                                 f"({lo:g} .. {hi:g}) and are none of them, so that the model is scored at settings "
                                 "it was not trained on, inside the knob's range")
        if raw and not isinstance(chain.stages[stage], pedalboard.ExternalPlugin):
            raise ValueError(f"--sweep {stage}.{param}: raw:V values are a VST3/AU plugin's 0..1 host values; give "
                             f"stage {stage}'s values as plain numbers")
        current = _current_value(chain.stages[stage], param, raw)
        default = current if current is not None and lo <= current <= hi else (lo + hi) / 2
        name = param if params.count(param) == 1 else f"{param}_{stage}"
        unit = "" if raw else next((u for suffix, u in UNIT_SUFFIXES.items() if param.endswith(suffix)), "")
        result.append(KnobSweep(Knob(name, lo, hi, default, unit), stage, param, values, held.get((stage, param), ()),
                                raw))
    for sweep in result:  # every value must be one the device accepts
        for v in sweep.train_values + sweep.heldout_values:
            try:
                device_at(stages, [sweep], {sweep.knob.name: v}, base)
            except ValueError as e:
                option = "--sweep" if v in sweep.train_values else "--heldout"
                value = f"{'raw:' if sweep.raw else ''}{v:g}"
                raise ValueError(f"{option} {sweep.stage}.{sweep.param} (at {value}): {e}") from None
    return result


def _current_value(stage: Any, param: str, raw: bool = False) -> Optional[float]:
    if raw:
        parameter = getattr(stage, "parameters", {}).get(param)
        return float(parameter.raw_value) if parameter is not None else None
    value = getattr(stage, param, None)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def settings_grid(sweeps: Sequence[KnobSweep], heldout: bool = False) -> list[dict[str, float]]:
    """Every combination of the sweeps' training values; held out, every combination of the
    held-out values of the sweeps that have some with the training values of those that have
    none (a threshold held out at -28 dB is scored at each trained ratio; taking held-out values
    alone, it gave no setting at all). One empty setting when nothing is swept (a single
    capture), none held out then."""
    if not sweeps or (heldout and not any(s.heldout_values for s in sweeps)):
        return [] if heldout else [{}]
    lists = [s.heldout_values if heldout and s.heldout_values else s.train_values for s in sweeps]
    return [dict(zip([s.knob.name for s in sweeps], combo)) for combo in itertools.product(*lists)]


def controls_of(sweeps: Sequence[KnobSweep]) -> list[dict[str, Any]]:
    """Which stage parameter each knob sets, as plain JSON (a capture recipe keeps it)."""
    return [{"knob": s.knob.name, "stage": s.stage, "param": s.param, **({"raw": True} if s.raw else {})}
            for s in sweeps]


def stages_controlled(stages: list[dict], controls: Sequence[dict[str, Any]], settings: dict[str, float]) -> list[dict]:
    """`stages` (chain-preset stage documents) with each controlled parameter set to its knob's
    setting; controls as controls_of gives them."""
    docs = copy.deepcopy(stages)
    for c in controls:
        doc = docs[c["stage"]]
        key = "knobs" if "model" in doc else "params"
        value = settings[c["knob"]]
        doc.setdefault(key, {})[c["param"]] = {"raw": value} if c.get("raw") else value
    return docs


def stages_at(stages: list[dict], sweeps: Sequence[KnobSweep], settings: dict[str, float]) -> list[dict]:
    """`stages` with each swept parameter set to its setting."""
    return stages_controlled(stages, controls_of(sweeps), settings)


def device_at(stages: list[dict], sweeps: Sequence[KnobSweep], settings: dict[str, float], base: Path):
    """The chain of `stages` with each swept parameter set (stages_at), ready to run."""
    from .chain import Chain, _stage_from_json

    return Chain([_stage_from_json(d, i, base) for i, d in enumerate(stages_at(stages, sweeps, settings))])


def heldout_signal_args(seconds: float, seed: int) -> tuple[float, int]:
    return min(seconds, HELDOUT_MAX_SECONDS), seed + 1


def capture_sweep(stages: list[dict], base: Path, sweeps: Sequence[KnobSweep], sample_rate: float, seconds: float,
                  seed: int) -> tuple[list, list]:
    """(training captures, held-out captures), each a neuralfx.training.Capture with its settings."""
    from .training import Capture

    def record(grid: list[dict[str, float]], signal: np.ndarray) -> list:
        return [Capture(CapturePair(signal, run_device(device_at(stages, sweeps, s, base), signal, sample_rate),
                                    float(sample_rate), recorded=False), s) for s in grid]

    train = record(settings_grid(sweeps), capture_signal(sample_rate, seconds, seed))
    held = settings_grid(sweeps, heldout=True)
    return train, record(held, capture_signal(sample_rate, *heldout_signal_args(seconds, seed))) if held else []


def signal_record(seconds: float, seed: int) -> dict[str, Any]:
    """What a manifest records of the capture signal its captures were made with."""
    return {"version": SIGNAL_VERSION, "seconds": float(seconds), "seed": int(seed)}


def write_manifest(folder: str | os.PathLike, stages: list[dict], sweeps: Sequence[KnobSweep], train: Sequence,
                   heldout: Sequence, signal: Optional[dict[str, Any]] = None) -> Path:
    """Writes every capture's audio (one input per signal, one target per setting) and the
    manifest; `signal` (signal_record) when the input is the capture signal."""
    from . import audio as audio_io
    from .files import atomic_path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for group, prefix in ((train, ""), (heldout, "heldout_")):
        if not group:
            continue
        audio_io.write(folder / f"{prefix}input.wav", group[0].pair.input, group[0].pair.sample_rate)
        for i, c in enumerate(group):
            target = f"{prefix}target.wav" if len(group) == 1 else f"{prefix}target_{i:03d}.wav"
            audio_io.write(folder / target, c.pair.target, c.pair.sample_rate)
            entries.append({"input": f"{prefix}input.wav", "target": target, "settings": c.settings,
                            "heldout": bool(prefix)})
    # Captured here through a digital chain: no converter, so full-scale runs are not clipping.
    doc = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "sample_rate": train[0].pair.sample_rate,
           "recorded": any(c.pair.recorded for c in [*train, *heldout]), "device": stages,
           "knobs": [s.to_json() for s in sweeps], "captures": entries}
    if signal is not None:
        doc["signal"] = signal
    path = folder / MANIFEST_NAME
    with atomic_path(path, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Manifest:
    """A capture manifest, read once: its captures (audio loaded), sweeps and device."""

    path: Path
    train: list  # training Captures
    heldout: list  # held-out Captures
    sweeps: list[KnobSweep]
    doc: dict[str, Any]  # the file as read

    @property
    def knobs(self) -> list[Knob]:
        return [s.knob for s in self.sweeps]

    def describe(self) -> str:
        """What the captures are of, for a model's "trained_on": the device, and what each knob sets."""
        swept = "; ".join(f"knob {s.knob.name} sets stage {s.stage}'s {s.param} "
                          f"({', '.join(f'{v:g}' for v in s.train_values)})" for s in self.sweeps)
        return (f"{'knob captures' if self.sweeps else 'captures'} {self.path} of "
                f"{describe_device(self.doc.get('device'))}" + (f"; {swept}" if swept else ""))

    def capture_recipe(self) -> Optional[dict[str, Any]]:
        """For a model trained on the captures: its metadata.capture (report.capture_recipe), so
        that `neuralfx report` can remake them; None where the manifest cannot: no or another
        capture signal, or a device that is not Pedalboard's built-in plugins alone (a VST3 file,
        or a neuralfx model stage, whose file may have changed or moved since)."""
        from .report import capture_recipe

        doc = self.doc
        try:
            signal, stages = doc["signal"], doc["device"]
            if signal["version"] != SIGNAL_VERSION or not all(set(d) <= {"plugin", "params"} for d in stages):
                return None
            trained = [e.get("settings", {}) for e in doc["captures"] if not e.get("heldout", False)]
            return capture_recipe(doc["sample_rate"], signal["seconds"], signal["seed"],
                                  [(settings, stages_at(stages, self.sweeps, settings)) for settings in trained],
                                  stages, controls_of(self.sweeps))
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            return None  # a signal record this cannot read: the model just lacks the recipe


def load_manifest(path: str | os.PathLike, sample_rate: Optional[float] = None) -> Manifest:
    """A capture manifest with its captures' audio; audio paths are relative to the manifest's folder."""
    from .datacheck import read_pair
    from .files import read_json
    from .training import Capture

    path = Path(path)
    doc = read_json(path, "capture manifest", inside=MANIFEST_NAME)
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"'{path}' is not a capture manifest (expected \"format\": \"{MANIFEST_FORMAT}\")")
    if doc.get("version") != MANIFEST_VERSION:
        raise ValueError(f"manifest '{path}': version {doc.get('version')!r} is not supported (expected {MANIFEST_VERSION})")
    sweeps = [KnobSweep.from_json(k, f"{path}: knobs[{i}]") for i, k in enumerate(doc.get("knobs", []))]
    names = [s.knob.name for s in sweeps]
    entries = doc.get("captures")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"manifest '{path}': 'captures' must be a non-empty list")
    train, held = [], []
    for i, e in enumerate(entries):
        where = f"{path}: captures[{i}]"
        if not isinstance(e, dict) or not {"input", "target"} <= set(e):
            raise ValueError(f"{where}: expected an object with input, target, settings (and optional heldout)")
        settings = e.get("settings", {})
        if not isinstance(settings, dict) or set(settings) != set(names):
            renamed = isinstance(settings, dict) and len(settings) == len(names)
            raise ValueError(f"{where}.settings: expected a value for each knob {names}, got {settings}"
                             + ("; a knob renamed in 'knobs' is renamed in every capture's settings too"
                                if renamed else ""))
        pair = read_pair(path.parent / e["input"], path.parent / e["target"], sample_rate,
                         recorded=bool(doc.get("recorded", True)))
        # The model records the manifest's rate for `neuralfx report` to remake the captures at.
        if "sample_rate" in doc and doc["sample_rate"] != pair.sample_rate:
            raise ValueError(f"{where}: the manifest's sample_rate is {doc['sample_rate']!r}; its files are at "
                             f"{pair.sample_rate:g} Hz: correct the manifest")
        (held if e.get("heldout", False) else train).append(Capture(pair, {k: float(v) for k, v in settings.items()}))
    if not train:
        raise ValueError(f"manifest '{path}': every capture is held out; mark some \"heldout\": false")
    return Manifest(path, train, held, sweeps, doc)


def describe_device(stages: Any) -> str:
    """One line naming a device's stages and their settings, for a model's "trained_on"."""
    parts = []
    for doc in stages if isinstance(stages, list) else []:
        doc = doc if isinstance(doc, dict) else {}
        files = [Path(str(doc[k])).name for k in ("plugin_file", "plugin_path") if k in doc]  # plugin_path: before 4a44372
        name = doc.get("plugin") or (files[0] if files else doc.get("model")) or "an unnamed stage"
        settings = doc.get("params", doc.get("knobs"))
        parts.append(f"{name} {json.dumps(settings)}" if settings else str(name))
    return " -> ".join(parts) or "an unnamed device"

