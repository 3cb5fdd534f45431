"""The NeuralFX VST3 plugin (cpp/plugin/) loaded headless by Pedalboard.

The plugin must sound exactly like the pybind11 kernel it shares its code with, at every
Pedalboard buffer size, mono and stereo; take models from its shipped presets or from the state
a host hands it; report and compensate its latency; resample when the host runs at another rate;
and survive bad state. Real-time safety (no allocation in processBlock) is proven by the C++
test cpp/plugin/tests/test_plugin_realtime.cpp.

The bundle is found through NEURALFX_PLUGIN_PATH, else in build/cmake/ of this repository; these
tests skip only when it has not been built (cmake -DNEURALFX_BUILD_PLUGIN=ON, see docs/PLUGIN.md).
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path
from typing import Optional

import numpy as np
import pytest
import torch

pedalboard = pytest.importorskip("pedalboard")

import neuralfx  # noqa: E402
from neuralfx import _core  # noqa: E402
from neuralfx.model import Model  # noqa: E402
from neuralfx.models.lstm import LSTM  # noqa: E402

from conftest import plucks, random_lstm_model, sweep  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PRESETS = sorted((REPO / "presets").glob("*.nfx"))
BUFFER_SIZES = [1, 64, 512, 8192]
# The plugin runs the same kernel code on the same float32 samples: anything above float
# rounding noise means the plugin changed the signal path.
PARITY_TOLERANCE = 1e-5


def find_bundle() -> Optional[Path]:
    env = os.environ.get("NEURALFX_PLUGIN_PATH")
    if env:
        return Path(env)
    # The Makefile's build folder only: other folders under build/ may hold older builds.
    found = sorted(REPO.glob("build/cmake/cpp/plugin/NeuralFX_artefacts/*/VST3/NeuralFX.vst3"),
                   key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


BUNDLE = find_bundle()
_BUILT = BUNDLE is not None and (BUNDLE / "Contents" / "x86_64-linux" / "NeuralFX.so").exists()
if os.environ.get("NEURALFX_PLUGIN_PATH") and not _BUILT:
    # `make test` sets the path after building the plugin: a missing bundle there is a failure.
    raise RuntimeError(f"NEURALFX_PLUGIN_PATH={BUNDLE} holds no built NeuralFX.vst3")
if not _BUILT:
    pytest.skip("NeuralFX.vst3 not built (cmake -DNEURALFX_BUILD_PLUGIN=ON, or set NEURALFX_PLUGIN_PATH)",
                allow_module_level=True)


# ---- helpers ----

def load() -> "pedalboard.ExternalPlugin":
    return pedalboard.load_plugin(str(BUNDLE))


def vstpreset(component_state: bytes, class_id: bytes) -> bytes:
    """A .vstpreset holding one component state: the standard way to hand a VST3 plugin state."""
    data_offset = 48
    chunk_list = b"List" + struct.pack("<i", 1) + b"Comp" + struct.pack("<qq", data_offset, len(component_state))
    header = b"VST3" + struct.pack("<i", 1) + class_id + struct.pack("<q", data_offset + len(component_state))
    return header + component_state + chunk_list


def component_state(plugin) -> str:
    """The plugin's own state (its XML), read out of Pedalboard's .vstpreset bytes."""
    data = plugin.preset_data
    list_offset = struct.unpack("<q", data[40:48])[0]
    count = struct.unpack("<i", data[list_offset + 4:list_offset + 8])[0]
    for i in range(count):
        entry = data[list_offset + 8 + 20 * i:list_offset + 28 + 20 * i]
        if entry[:4] == b"Comp":
            offset, size = struct.unpack("<qq", entry[4:])
            return data[offset:offset + size].decode("utf-8")
    raise AssertionError("no component state in the preset data")


def give_model(plugin, model_json: str) -> None:
    """Delivers any model file to the plugin the way a host can: as the plugin's state."""
    plugin.preset_data = vstpreset(model_json.encode("utf-8"), plugin.preset_data[8:40])


def stereo(seconds: float = 0.4, rate: float = 48000) -> np.ndarray:
    return np.stack([plucks(seconds, seed=1, rate=rate), 0.8 * sweep(seconds, rate=rate)])


def kernel_output(model_json: str, audio: np.ndarray, knobs: dict[str, float]) -> np.ndarray:
    model = _core.Model.from_json(model_json)
    model.prepare(audio.shape[0], 8192)
    for name, value in knobs.items():
        model.set_knob(name, value)
    model.reset()  # knobs start at their values, as the plugin's do after a reset
    return model.process(audio)


def slot_settings(model_json: str, positions: list[float]) -> tuple[dict[str, float], dict[str, float]]:
    """Knob slot raw values and the matching knob values in the model's units."""
    knobs = _core.Model.from_json(model_json).knobs
    raw, values = {}, {}
    for i, (knob, position) in enumerate(zip(knobs, positions)):
        raw[f"knob{i + 1}"] = position
        values[knob["name"]] = float(np.float32(knob["min"]) + np.float32(position) * (np.float32(knob["max"]) - np.float32(knob["min"])))
    return raw, values


def identity_model_json(rate: int) -> str:
    """An LSTM with a zero head: with its input skip, y = x exactly, so only the plugin's own
    signal path (resampling, latency, mix) shows."""
    torch.manual_seed(0)
    block = LSTM(4, 1, conditioning=[], skip=True)
    with torch.no_grad():
        block.head.weight.zero_()
        block.head.bias.zero_()
    return Model([block], rate, []).to_modelfile({"name": "identity"}).to_json()


def assert_parity(plugin, model_json: str, knobs: dict[str, float], rate: int = 48000) -> None:
    audio = stereo(rate=rate)
    for channels in (1, 2):
        x = audio[:channels]
        expected = kernel_output(model_json, x, knobs)
        for buffer_size in BUFFER_SIZES:
            y = plugin(x, rate, buffer_size=buffer_size)
            assert y.shape == x.shape
            error = float(np.max(np.abs(y - expected)))
            assert error <= PARITY_TOLERANCE, f"{channels} ch, buffer {buffer_size}: max error {error:g}"
            assert plugin.reported_latency_samples == 0


@pytest.fixture(scope="module")
def knob_model_json() -> str:
    """A model with two knobs that is not a shipped preset (it reaches the plugin by state)."""
    return random_lstm_model(hidden=12, knobs=True, seed=3).to_modelfile({"name": "state-delivered"}).to_json()


# ---- loading and parameters ----

def test_loads_headless_with_the_documented_parameters() -> None:
    plugin = load()
    names = set(plugin.parameters)
    expected = {"model", "input_gain_db", "output_gain_db", "mix", "status"} | {f"knob{i}" for i in range(1, 9)}
    assert expected <= names, names
    choices = plugin.parameters["model"].valid_values
    assert choices[-1] == "(custom)"
    assert [c for c in choices[:-1]] == [p.stem for p in PRESETS], "plugin built with other presets: rebuild it"
    if PRESETS:
        assert plugin.status.startswith("ok: preset"), plugin.status
    else:
        assert plugin.status.startswith("error: no custom model"), plugin.status


@pytest.mark.skipif(len(PRESETS) < 2, reason="needs two shipped presets")
def test_status_never_describes_the_model_being_replaced() -> None:
    """A loader thread builds a model just chosen within about 10 ms; read at once, the status
    said the previous model was running ("ok: preset 'crunch_amp'" after choosing high_gain_amp)."""
    plugin = load()
    first, second = PRESETS[0].stem, PRESETS[-1].stem
    plugin.model = first
    plugin(np.zeros((1, 480), np.float32), 48000)
    plugin.model = second
    assert plugin.status in (f"loading: {second}", f"ok: preset '{second}'"), plugin.status
    plugin(np.zeros((1, 480), np.float32), 48000)
    assert plugin.status == f"ok: preset '{second}'", plugin.status


def preset_with_another_first_knob_range() -> Path:
    """A shipped preset whose first knob's range differs from the one of the model a fresh plugin
    runs (the first preset), so a knob set in the wrong range shows."""
    first = _core.Model.from_json(PRESETS[0].read_text()).knobs if PRESETS else []
    others = [p for p in PRESETS[1:] if (knobs := _core.Model.from_json(p.read_text()).knobs)
              and (not first or (knobs[0]["min"], knobs[0]["max"]) != (first[0]["min"], first[0]["max"]))]
    if not others:
        pytest.skip("needs a shipped preset whose first knob's range differs from the default model's")
    return others[0]


def test_knob_slots_speak_the_units_of_a_preset_just_chosen() -> None:
    """A slot's text (what a host shows, and what it parses a typed value with) follows the
    chosen preset at once: until the loader thread had built it, the slot spoke the previous
    model's units (the compressor's threshold at half range read "6.00 dB", clean_amp's gain).
    Pedalboard itself keeps the ranges it read at load (next test)."""
    preset = preset_with_another_first_knob_range()
    knob = _core.Model.from_json(preset.read_text()).knobs[0]
    plugin = load()
    plugin.model = preset.stem
    plugin.parameters["knob1"].raw_value = 0.5
    text = plugin.parameters["knob1"].string_value
    assert float(text.split()[0]) == pytest.approx((knob["min"] + knob["max"]) / 2), text


def test_a_model_chosen_at_load_gives_pedalboard_its_knob_ranges() -> None:
    """Pedalboard reads a parameter's range once, when the plugin loads, and maps a value set as
    an attribute through it: with `fx.model = "crunch_amp"` after loading, `fx.knob1 = 9` ran
    15 dB (9 in clean_amp's 0..12 is 75 %, and 75 % of crunch_amp's 6..18 is 15) and 18 was
    refused. A model chosen by load_plugin's parameter_values is there when the ranges are read
    (the README's and docs/PLUGIN.md's examples)."""
    preset = preset_with_another_first_knob_range()
    text = preset.read_text()
    plugin = pedalboard.load_plugin(str(BUNDLE), parameter_values={"model": preset.stem})
    raw, values = slot_settings(text, [0.25, 0.75, 0.5, 0.125])
    plugin.knob1 = next(iter(values.values()))
    assert plugin.parameters["knob1"].raw_value == pytest.approx(0.25, abs=1e-6)
    # The other slots keep their positions (the first preset's), so they are set too, by
    # raw_value: Pedalboard parses no unit it does not know (the compressor's ratio, ":1").
    for slot, position in list(raw.items())[1:]:
        plugin.parameters[slot].raw_value = position
    assert_parity(plugin, text, values, int(_core.Model.from_json(text).sample_rate))


def declared_positions(model_json: str) -> list[float]:
    """Each knob's default as a slot's 0..1 position, in float32 as KnobSpec::normalize does."""
    knobs = _core.Model.from_json(model_json).knobs
    return [float((np.float32(k["default"]) - np.float32(k["min"])) / (np.float32(k["max"]) - np.float32(k["min"])))
            for k in knobs[:8]]


def test_a_model_file_delivered_as_state_starts_at_its_declared_defaults() -> None:
    """It took the slots' old positions: a Gain knob over -60..24 dB declaring 0 dB ran at -18 dB."""
    from neuralfx.dsp import Gain
    from neuralfx.knobs import Knob

    text = Model([Gain(knobs={"gain_db": "level"})], 48000, [Knob("level", -60.0, 24.0, 0.0, "dB")]).to_modelfile().to_json()
    plugin = load()
    give_model(plugin, text)
    assert plugin.parameters["knob1"].raw_value == pytest.approx(declared_positions(text)[0], abs=1e-6)
    assert_parity(plugin, text, {"level": 0.0})


@pytest.mark.skipif(len(PRESETS) < 2, reason="needs two shipped presets")
def test_a_state_that_names_no_knob_values_starts_the_model_at_its_defaults() -> None:
    """A hand-written state choosing a preset without PARAMs for the knobs left the slots where
    they were (the first preset's positions)."""
    plugin = load()
    state = re.sub(r'<PARAM id="knob\d"[^>]*/>', "", component_state(plugin))
    state = re.sub(r'model="[^"]*"', f'model="{PRESETS[-1].stem}"', state, count=1)
    plugin.preset_data = vstpreset(state.encode("utf-8"), plugin.preset_data[8:40])
    expected = declared_positions(PRESETS[-1].read_text())
    assert [plugin.parameters[f"knob{i + 1}"].raw_value for i in range(len(expected))] == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("model", ["compressor", "crunch_amp"])
def test_a_nan_from_the_host_is_silence_not_the_end_of_the_sound(model: str) -> None:
    """One NaN sample in one block made every later block NaN (95,800 of 96,000 samples in that
    block, all after it), until the host reset the plugin. It is now taken as 0."""
    plugin = load()
    plugin.model = model
    x = stereo(0.5)
    plugin.reset()
    clean = np.concatenate([plugin(x, 48000, reset=False), plugin(x, 48000, reset=False)], axis=1)
    broken = x.copy()
    broken[1, 1000] = np.nan
    plugin.reset()
    y = np.concatenate([plugin(broken, 48000, reset=False), plugin(x, 48000, reset=False)], axis=1)
    assert np.all(np.isfinite(y))
    fixed = x.copy()
    fixed[1, 1000] = 0.0
    plugin.reset()
    expected = np.concatenate([plugin(fixed, 48000, reset=False), plugin(x, 48000, reset=False)], axis=1)
    assert np.array_equal(y, expected) and not np.array_equal(y, clean)


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_shipped_preset_matches_kernel(preset: Path) -> None:
    plugin = load()
    plugin.model = preset.stem
    text = preset.read_text()
    raw, values = slot_settings(text, [0.25, 0.75, 0.5, 0.125])
    for name, value in raw.items():
        plugin.parameters[name].raw_value = value
    rate = int(_core.Model.from_json(text).sample_rate)  # the model's own rate: no resampling
    assert_parity(plugin, text, values, rate)
    assert plugin.status == f"ok: preset '{preset.stem}'", plugin.status


def test_state_delivered_model_matches_kernel(knob_model_json: str) -> None:
    plugin = load()
    give_model(plugin, knob_model_json)
    assert plugin.model == "(custom)"
    assert plugin.status.startswith("ok: custom model"), plugin.status
    raw, values = slot_settings(knob_model_json, [0.25, 0.75])
    for name, value in raw.items():
        plugin.parameters[name].raw_value = value
    assert_parity(plugin, knob_model_json, values)
    # The slot shows the value in the model's units ("gain" spans 0..10).
    assert plugin.parameters["knob1"].string_value == "2.500"


def test_knob_slots_follow_the_model(knob_model_json: str) -> None:
    plugin = load()
    give_model(plugin, knob_model_json)
    state = component_state(plugin)
    assert re.search(r'<KNOB slot="knob1" name="gain" min="0\.0" max="10\.0"', state), state
    assert re.search(r'<KNOB slot="knob2" name="tone" min="-1\.0" max="1\.0"', state), state
    # Different knob positions give different sound: the slots really drive the model's knobs.
    x = stereo()[:1]
    plugin.parameters["knob1"].raw_value = 0.1
    low = plugin(x, 48000)
    plugin.parameters["knob1"].raw_value = 0.9
    high = plugin(x, 48000)
    assert float(np.max(np.abs(high - low))) > 1e-3


def test_gain_and_mix_parameters(knob_model_json: str) -> None:
    plugin = load()
    give_model(plugin, knob_model_json)
    raw, values = slot_settings(knob_model_json, [0.5, 0.5])
    x = stereo()
    dry = kernel_output(knob_model_json, x, values)

    plugin.parameters["input_gain_db"].raw_value = (6.0 + 24.0) / 48.0  # +6 dB exactly
    gain = np.float32(10.0 ** (6.0 / 20.0))
    expected = kernel_output(knob_model_json, x * gain, values)
    assert np.max(np.abs(plugin(x, 48000) - expected)) <= PARITY_TOLERANCE
    plugin.parameters["input_gain_db"].raw_value = 0.5

    plugin.parameters["output_gain_db"].raw_value = (-6.0 + 24.0) / 48.0  # -6 dB exactly
    expected = dry * np.float32(10.0 ** (-6.0 / 20.0))
    assert np.max(np.abs(plugin(x, 48000) - expected)) <= PARITY_TOLERANCE
    plugin.parameters["output_gain_db"].raw_value = 0.5

    plugin.parameters["mix"].raw_value = 0.5
    expected = 0.5 * dry + 0.5 * x
    assert np.max(np.abs(plugin(x, 48000) - expected)) <= PARITY_TOLERANCE
    plugin.mix = 0.0  # through Pedalboard's own value conversion: all dry
    assert np.array_equal(plugin(x, 48000), x)


def test_parameter_changes_are_smoothed() -> None:
    plugin = load()
    give_model(plugin, identity_model_json(48000))
    x = np.full((1, 4800), 0.5, dtype=np.float32)
    first = plugin(x, 48000)
    assert np.allclose(first, 0.5)
    plugin.parameters["output_gain_db"].raw_value = 0.0  # -24 dB, set between two renders
    second = plugin(x, 48000, reset=False)
    target = 0.5 * 10.0 ** (-24.0 / 20.0)
    # No step: the gain glides from 1 (10 ms time constant) and has arrived after 50 ms.
    assert second[0, 0] > 0.45
    assert np.all(np.diff(second[0, :480]) < 0)
    assert abs(second[0, -1] - target) < 1e-4


# ---- state ----

def test_state_round_trip_through_raw_state_and_vstpreset_file(knob_model_json: str, tmp_path: Path) -> None:
    source = load()
    give_model(source, knob_model_json)
    source.parameters["knob2"].raw_value = 0.75
    source.parameters["output_gain_db"].raw_value = 0.25
    x = stereo()
    expected = source(x, 48000)

    copy = load()
    copy.raw_state = source.raw_state
    assert copy.status.startswith("ok: custom model"), copy.status
    assert np.array_equal(copy(x, 48000), expected)

    preset_file = tmp_path / "session.vstpreset"
    preset_file.write_bytes(source.preset_data)
    restored = load()
    restored.load_preset(str(preset_file))
    assert restored.parameters["knob2"].raw_value == pytest.approx(0.75)
    assert np.array_equal(restored(x, 48000), expected)
    # The session carries the model itself, not a path to it.
    assert "<CUSTOM_MODEL" in component_state(restored)


def test_a_nan_parameter_in_a_state_reads_as_its_default(knob_model_json: str) -> None:
    """A state with value="nan" left the parameter NaN, shown as nan and saved again."""
    source = load()
    give_model(source, knob_model_json)
    default = source.parameters["output_gain_db"].raw_value
    source.parameters["output_gain_db"].raw_value = 0.25
    source.parameters["knob2"].raw_value = 0.75
    state, count = re.subn(r'(<PARAM id="output_gain" value=")[^"]*"', r'\1nan"', component_state(source))
    assert count == 1, state
    plugin = load()
    plugin.preset_data = vstpreset(state.encode("utf-8"), source.preset_data[8:40])
    assert plugin.status.startswith("ok: custom model"), plugin.status
    assert plugin.parameters["output_gain_db"].raw_value == pytest.approx(default)
    assert plugin.parameters["knob2"].raw_value == pytest.approx(0.75)  # the rest of the state is read
    assert "nan" not in component_state(plugin).lower()
    x = stereo()
    assert np.all(np.isfinite(plugin(x, 48000)))


@pytest.mark.parametrize("bad, reason", [
    (b"\x00\x01 definitely not a state", "bad plugin state"),
    (b'{"format": "neuralfx-model", "version": 1, "sample_rate": 48000, "knobs": [], "blocks": [{"type": "LS', "custom model"),
    (b'{"format": "neuralfx-model", "version": 7}', "version"),
    (b'<NeuralFX format="1" model="not-a-preset"/>', "not-a-preset"),
])
def test_bad_state_passes_audio_through_with_a_readable_error(bad: bytes, reason: str, knob_model_json: str) -> None:
    plugin = load()
    give_model(plugin, knob_model_json)  # a working model first: the bad state must replace it
    plugin.preset_data = vstpreset(bad, plugin.preset_data[8:40])
    assert plugin.status.startswith("error:") and reason in plugin.status, plugin.status
    x = stereo()
    for rate in (48000, 44100):
        assert np.array_equal(plugin(x, rate), x)
        assert plugin.reported_latency_samples == 0
    if "bad plugin state" in plugin.status:
        # Saved back as it came, so that re-saving a project does not destroy a state that a
        # newer build (or a repaired file) could still read.
        assert component_state(plugin).encode("utf-8").startswith(bad)
    else:
        assert 'status="error:' in component_state(plugin)
    again = load()
    again.preset_data = plugin.preset_data
    assert again.status == plugin.status


# ---- chains, latency, sample rates ----

def test_in_a_pedalboard_chain(knob_model_json: str) -> None:
    plugin = load()
    give_model(plugin, knob_model_json)
    gate = pedalboard.NoiseGate(threshold_db=-40, ratio=4)
    reverb = pedalboard.Reverb(room_size=0.3)
    x = stereo()
    chained = pedalboard.Pedalboard([gate, plugin, reverb])(x, 48000)
    _, values = slot_settings(knob_model_json, [0.5, 0.5])
    by_hand = reverb(kernel_output(knob_model_json, gate(x, 48000), values), 48000)
    assert np.max(np.abs(chained - by_hand)) <= PARITY_TOLERANCE


@pytest.mark.parametrize("rate, latency", [(48000, 0), (44100, 65)])
def test_latency_compensation_keeps_an_impulse_in_place(rate: int, latency: int) -> None:
    plugin = load()
    give_model(plugin, identity_model_json(48000))
    x = np.zeros((2, 8000), dtype=np.float32)
    x[:, 3000] = 1.0
    for buffer_size in BUFFER_SIZES:
        y = plugin(x, rate, buffer_size=buffer_size)
        assert plugin.reported_latency_samples == latency
        assert y.shape == x.shape
        assert int(np.argmax(np.abs(y[0]))) == 3000 and int(np.argmax(np.abs(y[1]))) == 3000
        if latency == 0:
            assert np.array_equal(y, x)
        else:  # band-limited by the resampler (cutoff 0.91 of the lower Nyquist), centred in place
            assert 0.85 < y[0, 3000] < 1.0
            assert np.allclose(y[:, 2990:3000], y[:, 3010:3000:-1], atol=1e-5)  # symmetric: no phase shift
    # The dry path is delayed by the same latency: mixing does not smear the impulse.
    plugin.parameters["mix"].raw_value = 0.5
    y = plugin(x, rate)
    assert int(np.argmax(np.abs(y[0]))) == 3000


@pytest.mark.parametrize("rate", [48000, 44100])
def test_a_stream_whose_calls_grow_equals_one_whole_call(rate: int) -> None:
    """Pedalboard prepares a plugin again when a call brings more samples than any before; the
    plugin rebuilt its engine then and the stream restarted from rest (a review: 0.77 off the
    whole-array output for chunks of 4096 then the rest). reset=True still starts afresh."""
    plugin = load()
    plugin.model = "crunch_amp"
    x = stereo(0.5, rate)
    whole = plugin(x, rate)
    cuts = [0, 300, 4096, 4096 + 2000, x.shape[1]]  # growing, shrinking, growing
    plugin.reset()
    parts = [plugin(x[:, a:b], rate, reset=False) for a, b in zip(cuts, cuts[1:])]
    # Pedalboard holds back the reported latency; silence after the stream brings it out.
    parts.append(plugin(np.zeros((2, plugin.reported_latency_samples), np.float32), rate, reset=False))
    streamed = np.concatenate(parts, axis=1)
    assert streamed.shape == whole.shape
    assert np.max(np.abs(streamed - whole)) <= PARITY_TOLERANCE, np.max(np.abs(streamed - whole))
    plugin(stereo(0.3, rate)[:, ::-1].copy(), rate)  # other audio, then a fresh whole call again
    assert np.array_equal(plugin(x, rate), whole)


def test_a_model_the_host_rate_refuses_passes_audio_through_in_place() -> None:
    """A 1 kHz model at a 44.1 kHz host needs more filter taps than the resampler's limit: the
    plugin passes audio through, but reported the latency a conversion would have had (2867
    samples), so Pedalboard moved the audio that early (a review)."""
    plugin = load()
    give_model(plugin, identity_model_json(1000))
    x = np.zeros((2, 8000), dtype=np.float32)
    x[:, 5000] = 1.0
    y = plugin(x, 44100)
    assert plugin.reported_latency_samples == 0 and np.array_equal(y, x), plugin.reported_latency_samples
    assert plugin.status.startswith("error: custom model: cannot convert between 44100 Hz and 1000 Hz")


@pytest.mark.parametrize("rate", [44100, 96000])
def test_at_another_rate_the_plugin_equals_the_python_path(rate: int) -> None:
    """The plugin's delayed conversion runs the model on the grid of the Python path's delay-free
    one (neuralfx.resampling), so a distorting amp aliases alike in both. Its first stage used to
    delay by whole host samples: crunch_amp at 44.1 kHz then differed from
    neuralfx.load(..., resample=True) by up to 0.36 (-29 dB)."""
    plugin = load()
    plugin.model = "crunch_amp"
    x = stereo(0.5, rate)
    for channels in (1, 2):
        y = plugin(x[:channels], rate, buffer_size=512)
        expected = neuralfx.load("crunch_amp", resample=True)(x[:channels], rate)
        assert np.max(np.abs(y - expected)) <= PARITY_TOLERANCE, np.max(np.abs(y - expected))


def test_resampled_model_matches_kernel_at_44100(knob_model_json: str) -> None:
    """At 44.1 kHz the plugin converts to the model's 48 kHz and back. Reference: the kernel at
    48 kHz on the same band-limited signal, brought to 44.1 kHz by scipy's polyphase resampler."""
    from scipy.signal import resample_poly

    plugin = load()
    give_model(plugin, knob_model_json)
    _, values = slot_settings(knob_model_json, [0.5, 0.5])
    x48 = stereo(0.5, 48000)
    x44 = resample_poly(x48, 147, 160, axis=1).astype(np.float32)
    reference = resample_poly(kernel_output(knob_model_json, resample_poly(x44, 160, 147, axis=1).astype(np.float32), values),
                              147, 160, axis=1)
    for channels in (1, 2):
        y = plugin(x44[:channels], 44100, buffer_size=512)
        assert plugin.reported_latency_samples == 65
        ref = reference[:channels, :y.shape[1]]
        # The two resamplers differ only near Nyquist, where the model's harmonics are tiny.
        error_db = 20 * np.log10(np.std(y[:, 2000:-2000] - ref[:, 2000:-2000]) / np.std(ref[:, 2000:-2000]))
        print(f"{channels} ch: plugin at 44.1 kHz vs scipy-resampled kernel: {error_db:.1f} dB")
        assert error_db < -40.0, error_db
    # Block sizes do not change the resampled output either.
    outputs = [plugin(x44, 44100, buffer_size=b) for b in BUFFER_SIZES]
    for out in outputs[1:]:
        assert np.max(np.abs(out - outputs[0])) <= PARITY_TOLERANCE


def test_capture_a_vst3_plugin_with_its_parameters_swept(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`neuralfx capture --plugin` with parameters set and swept, as a user captures a plugin:
    before, --plugin took no parameters (only the plugin's defaults could be captured), --sweep
    needed --chain, and the manifest and the trained model did not say which settings it was."""
    import json

    from neuralfx import audio, modelfile
    from neuralfx.cli import main

    out = tmp_path / "cap"
    capture = ["capture", str(out), "--plugin", str(BUNDLE), "--plugin-param", "model=crunch_amp", "--seconds", "12",
               "--sweep", "0.input_gain_db=-12,0", "--heldout", "0.input_gain_db=-6"]
    assert main(capture) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["device"] == [{"plugin_file": str(BUNDLE.resolve()), "params": {"model": "crunch_amp"}}]
    x, _ = audio.read(out / "input.wav")
    amp = neuralfx.load("crunch_amp")
    for entry in manifest["captures"]:
        if entry["heldout"]:
            continue
        target, _ = audio.read(out / entry["target"])
        gain = np.float32(10 ** (entry["settings"]["input_gain_db"] / 20))
        assert np.max(np.abs(target[0] - amp(x[0] * gain, 48000))) <= 1e-4, entry
    assert main(["train", "--manifest", str(out / "manifest.json"), "--max-steps", "20", "--hidden-size", "4",
                 "-o", str(tmp_path / "m.nfx")]) == 0
    trained_on = modelfile.load(tmp_path / "m.nfx").metadata["trained_on"]
    assert trained_on == (f'knob captures {out / "manifest.json"} of NeuralFX.vst3 {{"model": "crunch_amp"}}; knob '
                          "input_gain_db sets stage 0's input_gain_db (-12, 0)")
    assert main([*capture[:6], "--plugin-param", "drive=3", "--seconds", "12"]) == 1
    assert "--plugin-param: NeuralFX.vst3 has no parameter drive (its parameters: model, " in capsys.readouterr().err
    # Pedalboard converts a value with the ranges it read at load: the knob slots' were the first
    # preset's, so 0.25 dB became the compressor's -78 dB threshold, silently. Refused; raw works.
    assert main([*capture[:4], "--plugin-param", "model=compressor", "--plugin-param", "knob1=0.25"]) == 1
    assert "--plugin-param knob1: set to 0.25, the plugin took -78.32 (-78.32 dB)" in capsys.readouterr().err
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "NeuralFX.vst3").symlink_to(BUNDLE.resolve())
    (tmp_path / "plugins" / "comp.chain.json").write_text(json.dumps({"stages": [
        {"plugin_file": "NeuralFX.vst3", "params": {"model": "compressor", "knob1": {"raw": 0.5},
                                                     "knob2": {"raw": 0.25}}}]}))
    assert main(["capture", str(tmp_path / "c2"), "--chain", str(tmp_path / "plugins" / "comp.chain.json"),
                 "--seconds", "12"]) == 0
    device = json.loads((tmp_path / "c2" / "manifest.json").read_text())["device"]
    # The file as found, not relative to a preset folder the manifest is not in.
    assert device == [{"plugin_file": str(BUNDLE.resolve()),
                       "params": {"model": "compressor", "knob1": {"raw": 0.5}, "knob2": {"raw": 0.25}}}]
    x, _ = audio.read(tmp_path / "c2" / "input.wav")
    target, _ = audio.read(tmp_path / "c2" / "target.wav")
    _, values = slot_settings((REPO / "presets" / "compressor.nfx").read_text(), [0.5, 0.25])
    compressor = neuralfx.load("compressor", **values)
    assert np.max(np.abs(target[0] - compressor(x[0], 48000))) <= 1e-5
    # Swept by raw values where another parameter changed the range: every plain value was refused,
    # and the raw:V the message advised was not taken by --sweep. Held out too; the knob spans
    # the raw values.
    sweep_raw = ["capture", str(tmp_path / "c3"), "--plugin", str(BUNDLE), "--plugin-param", "model=compressor",
                 "--plugin-param", "knob2=raw:0.25", "--seconds", "12",
                 "--sweep", "0.knob1=raw:0.25,raw:0.75", "--heldout", "0.knob1=raw:0.5"]
    assert main(sweep_raw) == 0
    manifest = json.loads((tmp_path / "c3" / "manifest.json").read_text())
    assert manifest["knobs"][0]["controls"] == {"stage": 0, "param": "knob1", "raw": True}
    assert (manifest["knobs"][0]["min"], manifest["knobs"][0]["max"]) == (0.25, 0.75)
    x, _ = audio.read(tmp_path / "c3" / "input.wav")
    for entry in manifest["captures"]:
        if not entry["heldout"]:
            target, _ = audio.read(tmp_path / "c3" / entry["target"])
            _, values = slot_settings((REPO / "presets" / "compressor.nfx").read_text(),
                                      [entry["settings"]["knob1"], 0.25])
            assert np.max(np.abs(target[0] - neuralfx.load("compressor", **values)(x[0], 48000))) <= 1e-5, entry
    assert main([*sweep_raw[:10], "--sweep", "0.knob1=raw:0.25,0.75"]) == 1
    assert "--sweep expects STAGE.PARAM=V1,V2,..." in capsys.readouterr().err
    assert main([*sweep_raw[:12], "--heldout", "0.knob1=0.5"]) == 1
    assert "give the values as the --sweep of 0.knob1 gives them (raw:V)" in capsys.readouterr().err
    # A Pedalboard plugin class for a file cannot take swept parameters: the stage names the file.
    (tmp_path / "vst.chain.json").write_text(json.dumps({"stages": [{"plugin": "VST3Plugin", "params": {}}]}))
    with pytest.raises(ValueError, match=r'stages\[0\].plugin: a VST3Plugin is given as \{"plugin_file"'):
        neuralfx.Chain.from_preset(tmp_path / "vst.chain.json")
