"""The model file format: exact round trip, and clear errors (Python and C++) for bad files."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import neuralfx
from neuralfx import modelfile
from neuralfx.dsp import Gain
from neuralfx.errors import ModelFileError
from neuralfx.knobs import Knob
from neuralfx.model import Model

from conftest import SIGNALS, plucks, random_lstm_model


def test_weights_round_trip_bit_exactly(tmp_path: Path) -> None:
    model = random_lstm_model(hidden=10, layers=2, knobs=True)
    # Values whose shortest decimal form is long, and extremes of float32.
    weights = model.blocks[0].lstm.weight_hh_l0.data
    weights[0, :4] = weights.new_tensor([np.float32(1) / 3, np.finfo(np.float32).tiny, 3.4e38, -1e-30])
    path = model.save(tmp_path / "m.nfx", {"validation_esr": 0.01})
    loaded = modelfile.load(path)
    for name, tensor in model.blocks[0].state_dict().items():
        stored = loaded.blocks[0].weights[name]
        assert stored.dtype == np.float32
        assert np.array_equal(stored.view(np.uint32), tensor.numpy().view(np.uint32)), name
    assert loaded.sample_rate == 48000
    assert [k.name for k in loaded.knobs] == ["gain", "tone"]
    assert loaded.metadata["validation_esr"] == 0.01
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # an ordinary file, not mkstemp's 0600


def test_file_is_versioned_json_without_pickle(lstm_model_path: Path) -> None:
    doc = json.loads(lstm_model_path.read_text())
    assert doc["format"] == "neuralfx-model" and doc["version"] == 1  # nothing in it needs version 2
    assert doc["blocks"][0]["type"] == "LSTM"


def test_a_file_is_version_2_only_where_a_version_1_reader_would_misread_it(tmp_path: Path) -> None:
    """Version-1 readers ignore config keys they do not know: a Compressor with level smoothing,
    or an RMS detector with its own attack, would run there as a different compressor, so such a
    file says version 2 (and they refuse it); every other file stays version 1. Both readers
    load both versions."""
    from neuralfx.dsp import Compressor, DryWet, NoiseGate

    cases = {
        1: [Compressor(), Compressor("rms"), NoiseGate("peak", rms_attack_ms=0.0)],  # peak ignores the RMS attack
        2: [Compressor(smoothing="level"), NoiseGate("rms", rms_attack_ms=0.0), DryWet([Compressor(smoothing="level")])],
    }
    x = SIGNALS["plucks"](seconds=0.1)
    for version, blocks in cases.items():
        for i, block in enumerate(blocks):
            path = Model([block], 48000).save(tmp_path / f"v{version}_{i}.nfx")
            assert json.loads(path.read_text())["version"] == version, (version, block)
            with torch.no_grad():
                reference = Model.load(path)(torch.from_numpy(x)[None])[0][0].numpy()
            assert np.max(np.abs(neuralfx.load(path)(x, 48000) - reference)) <= 1e-4


def _load_both(text: str, tmp_path: Path) -> tuple[str, str]:
    """Messages of the Python reader and of the C++ reader for the same bad file."""
    path = tmp_path / "bad.nfx"
    path.write_text(text)
    with pytest.raises(ModelFileError) as py_error:
        Model.from_modelfile(modelfile.load(path))
    with pytest.raises(ModelFileError) as cpp_error:
        neuralfx.load(path)
    return str(py_error.value), str(cpp_error.value)


def _mutate(path: Path, edit) -> str:
    doc = json.loads(path.read_text())
    edit(doc)
    return json.dumps(doc)


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda d: d.update(version=3), "file is version 3, this build reads versions 1 to 2"),
        (lambda d: d.update(version=0), "file is version 0"),
        (lambda d: d.update(format="other"), "format"),
        (lambda d: d.pop("sample_rate"), "sample_rate"),
        # `--knob a=b=7` could not set it; an escape sequence reached the terminal through `info`.
        (lambda d: d.update(knobs=[{"name": "a=b", "min": 0, "max": 1, "default": 0}]), "knobs[0].name: holds '='"),
        (lambda d: d.update(knobs=[{"name": "a\x1b[2J", "min": 0, "max": 1, "default": 0}]),
         "knobs[0].name: holds the control character U+001B"),
        (lambda d: d.update(knobs=[{"name": "a\x85", "min": 0, "max": 1, "default": 0}]),
         "knobs[0].name: holds the control character U+0085"),
        (lambda d: d.update(sample_rate=500), "sample_rate: outside [1000, 768000] Hz"),
        # It loaded in both, and then no rate converter took it (they take whole Hz).
        (lambda d: d.update(sample_rate=44100.5), "sample_rate: 44100.5 Hz is not a whole number of Hz"),
        (lambda d: d.update(blocks=[]), "blocks: empty"),
        (lambda d: d["blocks"][0].update(type="Fuzz"), "unknown block type 'Fuzz'"),
        (lambda d: d["blocks"][0]["weights"].pop("head.bias"), "blocks[0].weights.head.bias"),
        (lambda d: d["blocks"][0]["weights"]["lstm.weight_hh_l0"].update(shape=[48, 13]), "blocks[0].weights.lstm.weight_hh_l0"),
        (lambda d: d["blocks"][0]["config"].update(conditioning=["drive"]), "knob 'drive'"),
        (lambda d: d.update(knobs=[{"name": "a", "min": 1, "max": 0, "default": 0}]), "knobs[0].max"),
        # Finite as float64 but not as float32, which the kernel would turn into inf.
        (lambda d: d["blocks"][0]["weights"]["head.bias"]["data"].__setitem__(0, 1e39), "float32"),
        (lambda d: d.update(knobs=[{"name": "a", "min": -1e39, "max": 0, "default": 0}]), "knobs[0].min: outside the float32"),
        (lambda d: d.update(knobs=[{"name": "a", "min": -3e38, "max": 3e38, "default": 0}]), "max - min exceeds"),
        # The kernel ran a file with a weight it does not read as a model other than the file's
        # (a 2-layer LSTM without num_layers as one layer); Python took true and [1] for numbers.
        (lambda d: d["blocks"][0]["weights"].update({"typo.weight": {"shape": [1], "data": [0.5]}}),
         "blocks[0].weights: unexpected weight(s)"),
        (lambda d: d["blocks"][0]["weights"]["head.bias"].update(data=[True]), "blocks[0].weights.head.bias.data"),
        (lambda d: d["blocks"][0]["weights"]["head.bias"].update(data=[[0.5]]), "blocks[0].weights.head.bias.data"),
        (lambda d: d["metadata"].update(score=float("nan")), "(invalid JSON: NaN is not a JSON value)"),
        (lambda d: d["blocks"][0]["weights"]["head.bias"]["data"].__setitem__(0, float("-inf")),
         "(invalid JSON: -Infinity is not a JSON value)"),
        (lambda d: d["blocks"][0]["weights"]["head.bias"].update(data=["-3"]), "blocks[0].weights.head.bias.data"),
        (lambda d: d["blocks"][0]["weights"]["head.bias"].update(shape=[True]), "blocks[0].weights.head.bias.shape"),
        (lambda d: d["metadata"].update(score=10**400), "cannot be represented"),  # json writes the digits
        # numpy's reshape failed on it unnamed ("Maximum allowed dimension exceeded").
        (lambda d: d["blocks"][0]["weights"]["head.bias"].update(shape=[10**30, 0], data=[]),
         "blocks[0].weights.head.bias.shape"),
    ],
)
def test_bad_fields_are_named_by_both_readers(lstm_model_path: Path, tmp_path: Path, edit, needle: str) -> None:
    py_msg, cpp_msg = _load_both(_mutate(lstm_model_path, edit), tmp_path)
    assert needle in py_msg
    assert needle in cpp_msg


def test_a_weight_of_hundreds_of_digits_is_refused_by_both_readers(lstm_model_path: Path, tmp_path: Path) -> None:
    """Python's reader raised a bare OverflowError (a traceback from `neuralfx info`)."""
    py_msg, cpp_msg = _load_both(_mutate(lstm_model_path, lambda d: d["blocks"][0]["weights"]["head.bias"].update(
        data=[10**400])), tmp_path)
    assert "blocks[0].weights.head.bias.data: holds NaN, Inf or a value outside the float32 range" in py_msg
    assert "a value cannot be represented" in cpp_msg


def test_small_files_that_would_crash_or_fill_the_host_are_refused_by_both_readers(lstm_model_path: Path,
                                                                                   tmp_path: Path) -> None:
    """A 298 kB file whose metadata nested 100,000 deep overflowed the C++ reader's stack (a
    segfault in Python and in the plugin's host); a 7.6 kB WaveNet file with dilations of 8192
    made prepare() take 949 MB, 2000 knobs 505 MB."""
    from neuralfx.models import WaveNet

    def nested(levels: int) -> str:
        doc = json.loads(lstm_model_path.read_text())
        doc["metadata"] = "HERE"
        return json.dumps(doc).replace('"HERE"', '{"deep": ' + "[" * levels + "]" * levels + "}")

    py_msg, cpp_msg = _load_both(nested(100_000), tmp_path)
    assert "JSON nested more than 64 levels deep" in py_msg and "JSON nested more than 64 levels deep" in cpp_msg
    # The two readers count levels alike: the most lists and objects open at once, here the
    # file's object, metadata's and the lists.
    for levels in range(60, 68):
        path = tmp_path / "nested.nfx"
        path.write_text(nested(levels))
        outcomes = []
        for read in (lambda: Model.from_modelfile(modelfile.load(path)), lambda: neuralfx.load(path)):
            try:
                read()
                outcomes.append("loaded")
            except ModelFileError as e:
                outcomes.append(str(e).split(": ", 1)[-1])
        assert outcomes[0] == outcomes[1] and (outcomes[0] == "loaded") == (levels + 2 <= 64), (levels, outcomes)
    knobs = [{"name": f"k{i}", "min": 0, "max": 1, "default": 0} for i in range(65)]
    py_msg, cpp_msg = _load_both(_mutate(lstm_model_path, lambda d: d.update(knobs=knobs)), tmp_path)
    assert "knobs: 65 knobs, above the limit of 64" in py_msg and "knobs: 65 knobs, above the limit of 64" in cpp_msg
    small = json.loads(Model([WaveNet((4, 2), (3, 3), ([1, 2], [4]))], 48000).to_modelfile().to_json())
    small["blocks"][0]["config"]["dilations"] = [[8192] * 4, [1]]  # 2 x 8192 x 4 + 2 = 65538 samples
    py_msg, cpp_msg = _load_both(json.dumps(small), tmp_path)
    needle = "dilations: the layers keep 65538 samples of history (the sum of (kernel - 1) x dilation), above the limit of 65536"
    assert needle in py_msg and needle in cpp_msg
    small["blocks"][0]["config"]["dilations"] = [[1] * 60, [1] * 5]
    py_msg, cpp_msg = _load_both(json.dumps(small), tmp_path)
    assert "dilations: 65 layers, above the limit of 64" in py_msg and "dilations: 65 layers, above the limit of 64" in cpp_msg


def test_delay_lines_past_one_longest_delay_are_refused_by_both_readers(tmp_path: Path) -> None:
    """Forty 10 s Delays at 768 kHz (a 9 kB file) took 4.9 GB of a host: the model's lines
    together may hold what one longest Delay holds, also inside a DryWet."""
    from neuralfx.dsp import Delay, DryWet

    longest = json.loads(Model([Delay(768000.0, 10000.0)], 768000.0).to_modelfile().to_json())
    (tmp_path / "one.nfx").write_text(json.dumps(longest))
    neuralfx.load(tmp_path / "one.nfx")
    Model.load(tmp_path / "one.nfx")
    two = dict(longest, blocks=longest["blocks"] * 2)
    py_msg, cpp_msg = _load_both(json.dumps(two), tmp_path)
    needle = ("blocks[1].config.max_delay_ms: the model's Delay lines would hold 15360004 samples together, above "
              "the limit of 7680002 (one 10 s Delay at 768 kHz)")
    assert needle in py_msg and needle in cpp_msg
    # Checked as each Delay is read, before later blocks: both readers name the same first problem.
    py_msg, cpp_msg = _load_both(json.dumps(dict(two, blocks=two["blocks"] + [{"type": "Nope", "config": {}}])),
                                 tmp_path)
    assert needle in py_msg and needle in cpp_msg
    # 16 lines of 432002 samples load; a ninth DryWet's second Delay passes the limit.
    inside = json.loads(Model([DryWet([Delay(48000.0, 9000.0), Delay(48000.0, 9000.0)]) for _ in range(8)],
                              48000.0).to_modelfile().to_json())
    (tmp_path / "sixteen.nfx").write_text(json.dumps(inside))
    neuralfx.load(tmp_path / "sixteen.nfx")
    inside["blocks"].append(inside["blocks"][0])
    py_msg, cpp_msg = _load_both(json.dumps(inside), tmp_path)
    needle = "blocks[8].config.blocks[1].config.max_delay_ms: the model's Delay lines would hold 7776036 samples"
    assert needle in py_msg and needle in cpp_msg
    with pytest.raises(ModelFileError, match=r"blocks\[1\]\.config\.max_delay_ms: .* 15360004 samples"):
        Model([Delay(768000.0, 10000.0), Delay(768000.0, 10000.0)], 768000.0)


def test_what_one_reader_takes_the_other_takes_alike(tmp_path: Path) -> None:
    """A file read by one reader and refused by the other (a review's fuzz of model files): a
    byte-order mark, a Waveshaper without its curve, a Compressor's rms_attack_ms null; and a
    DryWet's inner block removed, whose weights the kernel left unread."""
    from neuralfx.dsp import Compressor, DryWet, Waveshaper

    x = plucks(0.5)
    doc = json.loads(Model([Waveshaper(drive_db=12.0), Compressor(detector="rms"),
                            DryWet([Gain(gain_db=-6.0), Gain(gain_db=3.0)])],
                           48000).to_modelfile().to_json())
    del doc["blocks"][0]["config"]["curve"]
    doc["blocks"][1]["config"]["rms_attack_ms"] = None
    path = tmp_path / "bom.nfx"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(doc).encode())
    with torch.no_grad():
        reference = Model.from_modelfile(modelfile.load(path))(torch.from_numpy(x)[None])[0][0].numpy()
    assert np.max(np.abs(neuralfx.load(path)(x, 48000) - reference)) <= 1e-4
    del doc["blocks"][2]["config"]["blocks"][1]
    py_msg, cpp_msg = _load_both(json.dumps(doc), tmp_path)
    for message in (py_msg, cpp_msg):
        assert "blocks[2].weights: unexpected weight(s)" in message and "blocks.1.gain_db" in message, message


def test_truncated_file_is_rejected(lstm_model_path: Path, tmp_path: Path) -> None:
    text = lstm_model_path.read_text()
    py_msg, cpp_msg = _load_both(text[: len(text) // 3], tmp_path)
    assert "truncated" in py_msg and "truncated" in cpp_msg


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00\x00\x00WAVEfmt ", b"\xff\xfe\x00garbage"])
def test_non_model_files_are_rejected(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "junk.nfx"
    path.write_bytes(content)
    with pytest.raises(ModelFileError):
        modelfile.load(path)
    with pytest.raises(ModelFileError):
        neuralfx.load(path)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="nope.nfx"):
        modelfile.load(tmp_path / "nope.nfx")
    with pytest.raises(FileNotFoundError, match="nope.nfx"):
        neuralfx.load(tmp_path / "nope.nfx")
    with pytest.raises(ModelFileError, match="nope.nfx' does not exist"):
        neuralfx.NeuralEffect.from_file(tmp_path / "nope.nfx")


def test_folder_is_not_a_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="is a folder"):
        modelfile.load(tmp_path)
    with pytest.raises(ModelFileError, match="is a folder, not a model file"):
        neuralfx.load(tmp_path)


def test_nan_weights_cannot_be_exported(tmp_path: Path) -> None:
    model = random_lstm_model()
    model.blocks[0].head.bias.data[0] = float("nan")
    with pytest.raises(ModelFileError, match="NaN"):
        model.save(tmp_path / "nan.nfx")
    assert not (tmp_path / "nan.nfx").exists()


def test_a_model_at_a_rate_no_reader_loads_is_refused_where_it_is_made() -> None:
    for rate, needle in ((44100.5, "44100.5 Hz is not a whole number of Hz"), (500, r"outside \[1000, 768000\] Hz")):
        with pytest.raises(ValueError, match=f"sample_rate: {needle}"):
            Model([Gain(6.0)], rate)
    with pytest.raises(ValueError, match="knobs\\[0\\].name: holds '='"):
        Model([Gain(6.0)], 48000, [Knob("a=b", 0.0, 1.0, 0.0)])


def test_empty_input_runs_from_the_settled_state() -> None:
    """state=None settles at the knobs' first values; with no samples there are none, and the
    defaults serve (a DSP-only model returned an empty output before settling existed)."""
    model = Model([Gain(6.0)], 48000.0)
    assert model(torch.zeros(1, 0))[0].shape == (1, 0)


def test_both_readers_list_the_same_config_entries_per_block_type() -> None:
    """Each Python block class's config_entries and the C++ registry's table (cpp/src/registry.cpp)
    are kept by hand in two languages: a type or an entry in one list only would let one reader
    take a file the other refuses."""
    import re

    from neuralfx.blocks import BLOCK_TYPES

    table = (Path(__file__).resolve().parent.parent / "cpp" / "src" / "registry.cpp").read_text()
    cpp = {name: re.findall(r'"([a-z_]+)"', entries)
           for name, entries in re.findall(r'\{"(\w+)", &make_\w+, \{([^}]*)\}\}', table)}
    assert set(cpp) == set(BLOCK_TYPES)
    for name, cls in BLOCK_TYPES.items():
        assert list(cls.config_entries) == cpp[name], name


def test_forward_names_a_wrong_dtype_and_wrong_knobs() -> None:
    """float64 x failed inside the RNN, knobs of shape (2, N) with an IndexError, and knobs in
    their units (18 dB) ran as an extrapolation of the trained 0..1 range."""
    model = random_lstm_model(hidden=4, knobs=True)
    x = torch.zeros(2, 64)
    with pytest.raises(ValueError, match=r"x is torch.float64 and the model's weights are torch.float32: pass x.to"):
        model(x.double())
    with pytest.raises(ValueError, match=r"knobs must be \(batch, knobs, samples\) = \(2, 2, 64\).*gain, tone.*got \(2, 64\)"):
        model(x, torch.zeros(2, 64))
    with pytest.raises(ValueError, match=r"knobs must be .*got \(3, 2, 64\)"):
        model(x, torch.zeros(3, 2, 64))
    with pytest.raises(ValueError, match=r"knobs are normalized 0\.\.1 .*knob 'tone' spans \[18.0, 18.0\]"):
        model(x, torch.cat([torch.zeros(2, 1, 64), torch.full((2, 1, 64), 18.0)], dim=1))
    with pytest.raises(ValueError, match=r"knob 'gain' spans \[1.0000001192092896, 1.0000001192092896\]"):
        model(x, torch.full((2, 2, 64), 1.0000001))
    y, _ = model(x, torch.full((2, 2, 64), 0.5))
    # A batch of 1 is every item's (a DSP chain ran it so before the checks); float64 knobs are
    # taken in x's dtype (they failed inside a TCN), and a model.double() runs on its defaults.
    assert torch.equal(model(x, torch.full((1, 2, 64), 0.5))[0], y)
    assert torch.equal(model(x, torch.full((2, 2, 64), 0.5, dtype=torch.float64))[0], y)
    assert model.double()(x.double())[0].dtype == torch.float64


def test_nesting_is_counted_outside_strings_and_long_strings_are_cheap() -> None:
    """Brackets and escaped quotes inside strings do not count. The string pattern took 4.8 GB
    for one 40 MB string (a backtracking frame per character); this one read it in 0.16 s."""
    assert modelfile._depth(r'{"a": "[[[", "b": [[["\"]", "\\"]]]}') == 4
    assert modelfile._depth('{"s": "' + "x" * 10_000_000 + r'\n", "t": [[]]}') == 3


def test_text_that_is_not_unicode_is_refused_by_both_readers_and_never_written(lstm_model_path: Path,
                                                                                tmp_path: Path) -> None:
    """`neuralfx fit ... --trained-on $'caf\\xe9 amp'` wrote "caf\\udce9 amp" (Python's
    surrogateescape of a Latin-1 byte), which Python's reader took and the kernel's refused."""
    py_msg, cpp_msg = _load_both(_mutate(lstm_model_path, lambda d: d["metadata"].update(trained_on="caf\udce9")),
                                 tmp_path)
    assert "metadata.trained_on: text with a lone surrogate (\\udce9)" in py_msg and "surrogate" in cpp_msg
    py_msg, cpp_msg = _load_both(_mutate(lstm_model_path, lambda d: d["knobs"].append(
        {"name": "g\ud800", "min": 0, "max": 1, "default": 0})), tmp_path)
    assert "knobs[0].name: text with a lone surrogate (\\ud800)" in py_msg and "surrogate" in cpp_msg
    model = Model.load(lstm_model_path)
    path = model.save(tmp_path / "latin1.nfx", {"trained_on": "caf\udce9 amp", "notes": ["\udce9"]})
    metadata = json.loads(neuralfx.load(path)._model.metadata_json)
    assert (metadata["trained_on"], metadata["notes"]) == ("caf\ufffd amp", ["\ufffd"])


def test_model_load_names_the_file_of_a_bad_block(lstm_model_path: Path, tmp_path: Path) -> None:
    """A block's config error from Model.load said only "blocks[0].config: ..." (the kernel's
    reader and modelfile.load name the file)."""
    path = tmp_path / "zero.nfx"
    path.write_text(_mutate(lstm_model_path, lambda d: d["blocks"][0]["config"].update(hidden_size=0)))
    with pytest.raises(ModelFileError, match=rf"^'{re.escape(str(path))}': blocks\[0\]\.config"):
        Model.load(path)
