"""Knob sweeps: specs, grids, the device at each setting, and the capture manifest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neuralfx.sweep import (KnobSweep, capture_sweep, device_at, load_manifest, settings_grid,
                            signal_record, sweeps_from_specs, write_manifest)

COMPRESSOR = [{"plugin": "Gain", "params": {"gain_db": 0}},
              {"plugin": "Compressor", "params": {"threshold_db": -20, "ratio": 4}}]


def test_two_parameters_make_a_grid_with_held_out_settings(tmp_path: Path) -> None:
    sweeps = sweeps_from_specs(COMPRESSOR, tmp_path, ["1.threshold_db=-30,-10", "1.ratio=2,8"],
                               ["1.threshold_db=-20", "1.ratio=4"])
    threshold, ratio = sweeps
    assert (threshold.knob.name, threshold.knob.unit, threshold.knob.min, threshold.knob.max) == ("threshold_db", "dB", -30, -10)
    assert threshold.knob.default == -20  # the chain's own setting, inside the range
    assert (ratio.knob.name, ratio.knob.unit, ratio.knob.min, ratio.knob.max, ratio.knob.default) == ("ratio", "", 2, 8, 4)
    assert settings_grid(sweeps) == [{"threshold_db": t, "ratio": r} for t in (-30, -10) for r in (2, 8)]
    assert settings_grid(sweeps, heldout=True) == [{"threshold_db": -20, "ratio": 4}]
    chain = device_at(COMPRESSOR, sweeps, {"threshold_db": -30, "ratio": 8}, tmp_path)
    assert (chain.stages[1].threshold_db, chain.stages[1].ratio) == (-30, 8)
    assert KnobSweep.from_json(json.loads(json.dumps(ratio.to_json())), "here") == ratio
    assert settings_grid([]) == [{}] and settings_grid([], heldout=True) == []
    # One of two sweeps held out: scored at each trained value of the other (this gave none).
    threshold_only = sweeps_from_specs(COMPRESSOR, tmp_path, ["1.threshold_db=-30,-10", "1.ratio=2,8"],
                                       ["1.threshold_db=-20"])
    assert settings_grid(threshold_only, heldout=True) == [{"threshold_db": -20, "ratio": 2}, {"threshold_db": -20, "ratio": 8}]
    assert settings_grid(threshold_only[1:], heldout=True) == []
    three = sweeps_from_specs(COMPRESSOR, tmp_path, ["1.threshold_db=-30,-10", "1.ratio=2,8", "1.attack_ms=1,10"],
                              ["1.threshold_db=-20", "1.attack_ms=5"])
    assert settings_grid(three, heldout=True) == [{"threshold_db": -20, "ratio": r, "attack_ms": 5} for r in (2, 8)]
    # A held-out value trained on, or outside the trained ones (it widened the knob past them).
    for held in ("1.threshold_db=-10", "1.threshold_db=-40", "1.threshold_db=-30"):
        with pytest.raises(ValueError, match=f"--heldout {held}: held-out values lie between the swept values "
                                             r"\(-30 \.\. -10\) and are none of them"):
            sweeps_from_specs(COMPRESSOR, tmp_path, ["1.threshold_db=-30,-10"], [held])


@pytest.mark.parametrize("sweep, heldout, message", [
    (["threshold_db=-30,-10"], [], "expects STAGE.PARAM=V1,V2"),
    (["1.threshold_db=-30,x"], [], "expects STAGE.PARAM=V1,V2"),
    (["5.ratio=2,4"], [], "the device has stages 0..1"),
    (["1.ratio=4,4"], [], "at least two different values"),
    # pybind11's dump of the constructor's signature before
    (["1.knee=2,4"], [], "--sweep 1.knee \\(at 2\\): stages\\[1\\].params: Compressor has no parameter knee \\(its "
                         "parameters: attack_ms, ratio, release_ms, threshold_db\\)"),
    (["1.ratio=raw:0.2,raw:0.4"], [], "--sweep 1.ratio: raw:V values are a VST3/AU plugin's 0..1 host values; give "
                                      "stage 1's values as plain numbers"),
    (["1.ratio=2,4"], ["1.threshold_db=-20"], "1.threshold_db is not swept"),
])
def test_bad_sweeps_say_what_is_wrong(tmp_path: Path, sweep: list, heldout: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sweeps_from_specs(COMPRESSOR, tmp_path, sweep, heldout)


def test_manifest_round_trip(tmp_path: Path) -> None:
    stages = [{"plugin": "Distortion", "params": {"drive_db": 6}}, {"plugin": "Gain", "params": {"gain_db": -6}}]
    sweeps = sweeps_from_specs(stages, tmp_path, ["0.drive_db=0,12"], ["0.drive_db=6"])
    train, held = capture_sweep(stages, tmp_path, sweeps, 48000, 12.0, seed=0)
    assert [c.settings for c in train] == [{"drive_db": 0}, {"drive_db": 12}]
    assert [c.settings for c in held] == [{"drive_db": 6}]
    assert not np.array_equal(held[0].pair.input, train[0].pair.input)  # another seed: other noise, notes and chords
    assert not np.allclose(train[0].pair.target, train[1].pair.target)  # the setting changed the sound
    # Without the capture signal's record the captures cannot be remade: no recipe for a model;
    # nor with a neuralfx model among the stages (its file may have changed or moved since).
    assert load_manifest(write_manifest(tmp_path / "bare", stages, sweeps, train, held)).capture_recipe() is None
    with_model = [*stages, {"model": "crunch_amp.nfx"}]
    assert load_manifest(write_manifest(tmp_path / "model", with_model, sweeps, train, held,
                                        signal_record(12.0, 0))).capture_recipe() is None
    path = write_manifest(tmp_path / "cap", stages, sweeps, train, held, signal_record(12.0, 0))
    manifest = load_manifest(path)
    recipe = manifest.capture_recipe()
    assert [d["settings"] for d in recipe["devices"]] == [{"drive_db": 0}, {"drive_db": 12}]
    assert [d["stages"][0]["params"]["drive_db"] for d in recipe["devices"]] == [0, 12]
    doc = json.loads(path.read_text())
    assert [c["target"] for c in doc["captures"]] == ["target_000.wav", "target_001.wav", "heldout_target.wav"]
    assert doc["recorded"] is False
    train2, held2, knobs = manifest.train, manifest.heldout, manifest.knobs
    assert manifest.describe() == ("knob captures " + str(path) + ' of Distortion {"drive_db": 6} -> Gain {"gain_db": -6}; '
                                   "knob drive_db sets stage 0's drive_db (0, 12)")
    assert [k.name for k in knobs] == ["drive_db"] and (knobs[0].min, knobs[0].max, knobs[0].default) == (0, 12, 6)
    for a, b in zip(train + held, train2 + held2):
        assert a.settings == b.settings
        assert np.array_equal(a.pair.input, b.pair.input) and np.array_equal(a.pair.target, b.pair.target)
        assert not b.pair.recorded
    # Hand edits are checked: a range must hold every captured value.
    doc["knobs"][0]["max"] = 10
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"knobs\[0\]: knob 'drive_db' \[0, 10\] dB: 12.0 is outside the range; widen"):
        load_manifest(path)
    doc["knobs"][0]["max"] = 12
    doc["knobs"][0]["default"] = 20
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"knobs\[0\]: default: knob 'drive_db' \[0, 12\] dB: 20.0 is outside the range; "
                                         r"change the default or widen min/max"):
        load_manifest(path)
    doc["knobs"][0]["default"] = 6
    # A rate the files are not at was recorded in the model, and report remade captures at it.
    doc["sample_rate"] = 44100
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"captures\[0\]: the manifest's sample_rate is 44100; its files are at 48000 Hz"):
        load_manifest(path)
    doc["sample_rate"] = 48000
    doc["captures"][1]["settings"] = {}
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"captures\[1\].settings: expected a value for each knob"):
        load_manifest(path)
    doc["knobs"][0]["name"] = "drive"  # renamed in 'knobs' alone
    doc["captures"][1]["settings"] = {"drive_db": 12}
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"captures\[0\].settings: expected a value for each knob \['drive'\], got "
                                         r"\{'drive_db': 0.0\}; a knob renamed in 'knobs' is renamed in every capture's"):
        load_manifest(path)
    # The manifest's folder, the input audio, or a missing file, given in its place: Python's own
    # messages ("[Errno 21] Is a directory", "'utf-8' codec can't decode byte 0x80") named no manifest.
    with pytest.raises(ValueError, match=rf"'{path.parent}' is a folder, not a capture manifest: give {path}"):
        load_manifest(path.parent)
    with pytest.raises(ValueError, match=r"input.wav' is not a capture manifest \(not UTF-8 text"):
        load_manifest(path.parent / "input.wav")
    with pytest.raises(ValueError, match=r"capture manifest '.*nope.json' does not exist"):
        load_manifest(path.parent / "nope.json")
    path.write_text("{}")
    with pytest.raises(ValueError, match="not a capture manifest"):
        load_manifest(path)


def test_a_device_is_described_by_its_stages_and_settings() -> None:
    from neuralfx.sweep import describe_device

    assert describe_device([{"plugin": "Compressor", "params": {"ratio": 4}}, {"model": "crunch_amp"},
                            {"plugin_file": "/p/Amp.vst3", "params": {"drive": {"raw": 0.5}}}]) == (
        'Compressor {"ratio": 4} -> crunch_amp -> Amp.vst3 {"drive": {"raw": 0.5}}')
    # A manifest of `capture --plugin` before plugin_file stages ("None" before this was handled)
    assert describe_device([{"plugin_path": "/x/Amp.vst3"}]) == "Amp.vst3"
    assert describe_device(None) == "an unnamed device"
