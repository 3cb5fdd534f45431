"""`neuralfx report`: plots and summary of a model against its target, through the CLI entry
point, checked against ESRs computed here independently (auraloss on the model file run by
neuralfx.load)."""

from __future__ import annotations

import re
import struct
import sys
from pathlib import Path

import auraloss
import numpy as np
import pedalboard
import pytest
import torch

import neuralfx
from neuralfx import cli, modelfile
from neuralfx.capture import SIGNAL_VERSION, capture, capture_signal, signal_sections
from neuralfx.report import (Evaluation, capture_recipe, log_axis_esr, segment_esr, transient_start,
                             worst_segment_lines)
from neuralfx.holdout import VALIDATION_CONTEXT
from neuralfx.training import Capture, TrainConfig, train

from conftest import random_lstm_model

RATE = 48000
SECONDS = 12.0  # the shortest capture signal
SEED = 5
STAGES = [{"plugin": "Gain", "params": {"gain_db": 10}}, {"plugin": "Distortion", "params": {"drive_db": 6}},
          {"plugin": "LowpassFilter", "params": {"cutoff_frequency_hz": 6000}}]
TINY = dict(hidden_size=8, batch_size=4, tbptt_samples=512, chunks_per_segment=2, warmup_samples=256,
            validate_every=10, max_steps=30, patience=100, learning_rate=1e-2)
PLOTS = ("loss_curves.png", "waveform.png", "error_spectrogram.png", "esr_per_segment.png")


def device(stages: list[dict] = STAGES) -> pedalboard.Pedalboard:
    from neuralfx.chain import _stage_from_json

    return pedalboard.Pedalboard([_stage_from_json(s, i, Path(".")) for i, s in enumerate(stages)])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(model, input.wav, target.wav): a tiny LSTM trained for a few steps on a short capture,
    its metadata saying how to remake the capture, as training/build_presets.py writes it, and
    a pair cut from that capture."""
    folder = tmp_path_factory.mktemp("trained")
    pair = capture(device(), RATE, SECONDS, SEED)
    config = TrainConfig(**TINY)
    result = train([Capture(pair)], config, progress=lambda s: None)
    metadata = result.metadata("test device", config, name="tiny")
    metadata["capture"] = capture_recipe(RATE, SECONDS, SEED, [({}, STAGES)])
    model = result.model.save(folder / "tiny.nfx", metadata)
    # A pair "recorded elsewhere": the last 3 s (a short pair keeps the plots quick to draw).
    type(pair)(pair.input[-3 * RATE :], pair.target[-3 * RATE :], RATE).save(folder)
    return model, folder / "input.wav", folder / "target.wav"


def summary_esr(folder: Path) -> float:
    return float(re.search(r"^ESR:\s+(\S+)", (folder / "summary.txt").read_text(), re.M).group(1))


def auraloss_esr(prediction: np.ndarray, target: np.ndarray) -> float:
    return float(auraloss.time.ESRLoss()(torch.from_numpy(prediction)[None], torch.from_numpy(target)[None]))


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # IHDR: the first chunk
    assert 600 <= width <= 3000 and 300 <= height <= 2000, (path.name, width, height)
    import matplotlib.image

    pixels = matplotlib.image.imread(path)
    assert pixels.shape[:2] == (height, width)
    assert pixels[..., :3].std() > 0.05, f"{path.name} is (nearly) blank"


def test_report_of_a_pair_matches_an_independent_esr(trained, tmp_path: Path, capsys) -> None:
    model, x_path, y_path = trained
    out = tmp_path / "report"
    assert cli.main(["report", str(model), "-o", str(out), "--input", str(x_path), "--target", str(y_path)]) == 0
    for name in PLOTS:
        assert_png(out / name)
    x, y = neuralfx.audio.read(x_path)[0][0], neuralfx.audio.read(y_path)[0][0]
    expected = auraloss_esr(neuralfx.load(model)(x, RATE), y)
    assert summary_esr(out) == pytest.approx(expected, rel=1e-5)  # summary prints 6 significant digits
    text = (out / "summary.txt").read_text()
    assert "LSTM(hidden_size=8" in text and "48000 Hz" in text and f"{TINY['max_steps']} steps" in text
    assert "worst 1 s segments" in text
    assert f"ESR {expected:.6g}" in capsys.readouterr().out
    assert "latency:          0 samples (0.00 ms) in the model; 0.00 ms of device latency removed" in text
    # A device 3 ms late: the summary said only the model's latency, 0, not what it removed.
    late = tmp_path / "late.wav"
    neuralfx.audio.write(late, np.concatenate([np.zeros(144, np.float32), y[:-144]])[None], RATE)
    assert cli.main(["report", str(model), "-o", str(tmp_path / "late"), "--input", str(x_path), "--target", str(late)]) == 0
    text = (tmp_path / "late" / "summary.txt").read_text()
    assert "0 samples (0.00 ms) in the model; 3.00 ms of device latency removed from the scored audio" in text


def test_report_remakes_the_held_out_audio_from_metadata(trained, tmp_path: Path) -> None:
    model, _, _ = trained
    out = tmp_path / "report"
    assert cli.main(["report", str(model), "-o", str(out)]) == 0
    for name in PLOTS:
        assert_png(out / name)
    # Independently: the same capture, the last 15% of each second predicted after 4096 samples of
    # context (the record in the metadata says so).
    meta = modelfile.load(model).metadata
    assert meta["validation"] == {"fraction": 0.15, "span_samples": RATE, "context_samples": 4096}
    x = capture_signal(RATE, SECONDS, SEED)
    y = device()(x[None], RATE)[0]
    effect = neuralfx.load(model)
    predicted, held, at = [], [], []
    for second in range(int(SECONDS)):
        start, end = second * RATE + int(RATE * 0.85), (second + 1) * RATE
        predicted.append(effect(x[start - 4096 : end], RATE)[4096:])
        held.append(y[start:end])
        at.append(np.arange(start, end))
    p, t, at = (np.concatenate(a) for a in (predicted, held, at))
    expected = auraloss_esr(p, t)
    assert summary_esr(out) == pytest.approx(expected, rel=1e-5)
    # Each section's ESR over the held-out samples that lie in it, where they are not near-silent:
    # at 12 s the pieces miss the sweeps' sound, whose ESR, error over near-silence, read 2.5e9.
    summary = (out / "summary.txt").read_text()
    quiet = []
    for name, lo, hi in signal_sections(RATE, SECONDS):
        inside = (at >= lo) & (at < hi)
        assert inside.any(), name
        rms = np.sqrt(np.mean(t[inside].astype(np.float64) ** 2))
        if rms < 10 ** (-50 / 20):
            quiet.append(name)
            level = f"{20 * np.log10(rms):.1f} dBFS RMS" if rms > 0 else "silent"
            assert f"  {name}: " + " " * (16 - len(name)) + f"not scored: its {inside.sum()} samples scored are near-silent " \
                   f"(target {level})" in summary, name
            continue
        reported = float(re.search(rf"  {name}: +ESR ([0-9.e+-]+)", summary).group(1))
        assert reported == pytest.approx(auraloss_esr(p[inside], t[inside]), rel=1e-4), name
    assert "sweeps" in quiet and "chords" not in quiet, quiet
    # The worst segments say where they lie in the capture: they gave their place in the joined
    # held-out pieces, "0.00 s" where the capture's input file has the alignment clicks.
    assert "of the scored pieces joined, by where they start and end in the captures' input files:" in summary
    worst = re.findall(r"^  ([0-9.]+) s \.\. ([0-9.]+) s  ESR (\S+)", summary, re.M)
    assert worst, summary
    segments = {(f"{at[k]/RATE:.2f}", f"{at[min(len(at), k + RATE) - 1]/RATE:.2f}"): auraloss_esr(p[k : k + RATE], t[k : k + RATE])
                for k in range(0, len(at), RATE)}
    for first, last, value in worst:
        assert float(value) == pytest.approx(segments[(first, last)], rel=1e-3), (first, last)
    # ... which is the ESR training measured for the weights it kept.
    assert expected == pytest.approx(meta["validation_esr"], rel=1e-5)
    history = meta["history"]
    assert history["step"] == [10, 20, 30]
    assert min(history["validation_esr"]) == pytest.approx(meta["validation_esr"], rel=1e-5)


def test_whole_scores_every_section_of_the_capture_signal(trained, tmp_path: Path) -> None:
    """--whole scores the captures trained on too, section by section."""

    model, _, _ = trained
    sections = signal_sections(RATE, SECONDS)
    assert [name for name, _, _ in sections] == ["alignment clicks", "sweeps", "noise", "notes", "chords"]
    assert sections[0][1] == 0 and all(a[2] == b[1] for a, b in zip(sections, sections[1:]))
    out = tmp_path / "whole"
    assert cli.main(["report", str(model), "-o", str(out), "--whole"]) == 0
    summary = (out / "summary.txt").read_text()
    assert "the whole training captures (all but the last 15% of every 1 s trained on)" in summary
    # Each section's ESR, recomputed independently from the remade capture.
    x = capture_signal(RATE, SECONDS, SEED)
    y = device()(x[None], RATE)[0]
    prediction = neuralfx.load(model)(x, RATE)
    for name, lo, hi in sections:
        reported = float(re.search(rf"  {name}: +ESR ([0-9.e+-]+)", summary).group(1))
        assert reported == pytest.approx(auraloss_esr(prediction[lo:hi], y[lo:hi]), rel=1e-4), name


def test_knob_selects_a_trained_setting(tmp_path: Path, capsys) -> None:
    # A random conditioned model: the report does not care how good it is, only what it measures.
    stages = [dict(s, params=dict(s["params"])) for s in STAGES]
    devices = []
    for gain in (2.0, 8.0):
        stages[1]["params"]["drive_db"] = gain
        devices.append(({"gain": gain, "tone": 0.0}, [dict(s, params=dict(s["params"])) for s in stages]))
    model = random_lstm_model(knobs=True).save(
        tmp_path / "knobbed.nfx", {"name": "knobbed", "capture": capture_recipe(RATE, SECONDS, SEED, devices)})
    out = tmp_path / "report"
    assert cli.main(["report", str(model), "-o", str(out), "--knob", "gain=8"]) == 0
    x = capture_signal(RATE, SECONDS, SEED)
    y = device(devices[1][1])(x[None], RATE)[0]
    start = int(len(x) * (1 - 0.15))  # no config in the metadata: the default fraction
    effect = neuralfx.load(model, gain=8.0, tone=0.0)
    expected = auraloss_esr(effect(x[start - VALIDATION_CONTEXT :], RATE)[VALIDATION_CONTEXT:], y[start:])
    assert summary_esr(out) == pytest.approx(expected, rel=1e-5)
    assert not (out / "loss_curves.png").exists()  # no history in this file
    # Without the knob controls in its metadata (models built before they were kept), a setting
    # never trained on cannot be captured: the pair must be given.
    capsys.readouterr()
    assert cli.main(["report", str(model), "-o", str(out), "--knob", "gain=3"]) == 1
    assert ("--knob gain=3 is not a trained setting (trained: gain=2, tone=0; gain=8, tone=0), and the model's "
            "metadata says how to capture its trained settings only") in capsys.readouterr().err


def test_old_model_needs_a_pair_and_reports_missing_history(lstm_model_path: Path, trained, tmp_path: Path,
                                                            capsys) -> None:
    _, x_path, y_path = trained
    out = tmp_path / "report"
    assert cli.main(["report", str(lstm_model_path), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "--input" in err and "--target" in err and "metadata.capture" in err
    assert cli.main(["report", str(lstm_model_path), "-o", str(out), "--input", str(x_path)]) == 1
    assert "go together" in capsys.readouterr().err
    assert cli.main(["report", str(lstm_model_path), "-o", str(out), "--input", str(x_path),
                     "--target", str(y_path)]) == 0
    assert "no training history" in capsys.readouterr().out
    assert not (out / "loss_curves.png").exists()
    for name in PLOTS[1:]:
        assert_png(out / name)
    assert "no training history" in (out / "summary.txt").read_text()


def test_an_exact_model_is_drawn_without_warnings(trained, tmp_path: Path, capsys) -> None:
    """A model that is the device scores ESR 0, which a log axis cannot show: matplotlib warned
    and drew an empty ESR plot. The exact segments are drawn on a floor the legend names, a decade
    below any ESR above 0 (float rounding gives about 1e-15: those are drawn where they are)."""
    import warnings

    from neuralfx.dsp import Gain
    from neuralfx.model import Model

    _, x_path, _ = trained
    model = Model([Gain(gain_db=0.0)], RATE).save(tmp_path / "unity.nfx")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cli.main(["report", str(model), "-o", str(tmp_path / "r"), "--input", str(x_path),
                         "--target", str(x_path)]) == 0
    assert "ESR 0, MR-STFT 0;" in capsys.readouterr().out
    assert_png(tmp_path / "r" / "esr_per_segment.png")
    esr, overall, floor = log_axis_esr(np.array([0.0, 5e-15, 2e-15]), 2e-15)
    assert esr == pytest.approx([2e-16, 5e-15, 2e-15], rel=1e-12) and overall == 2e-15 and esr[0] == floor
    esr, overall, floor = log_axis_esr(np.zeros(3), 0.0)
    assert esr == pytest.approx([1e-13] * 3, rel=1e-12) and overall == floor == esr[0]


def test_a_recipe_for_another_capture_signal_is_not_remade(tmp_path: Path, capsys) -> None:
    # Remade from another version of the capture signal, the "held-out" audio would not be what
    # the model was trained on (the presets before version 2 differ from it by up to 0.21).
    recipe = capture_recipe(RATE, SECONDS, SEED, [({}, STAGES)])
    assert recipe["signal_version"] == SIGNAL_VERSION
    del recipe["signal_version"]  # a file written before the version was recorded: version 1
    model = random_lstm_model().save(tmp_path / "old.nfx", {"name": "old", "capture": recipe})
    assert cli.main(["report", str(model), "-o", str(tmp_path / "report")]) == 1
    err = capsys.readouterr().err
    assert "version 1 of the capture signal" in err and "--input and --target" in err


def test_missing_matplotlib_says_what_to_install(lstm_model_path: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    assert cli.main(["report", str(lstm_model_path), "-o", str(tmp_path / "r")]) == 1
    assert "pip install 'neuralfx[report]'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_segment_esr_and_transient_finder_on_constructed_signals() -> None:
    rng = np.random.default_rng(0)
    target = (0.5 * rng.standard_normal(3 * RATE)).astype(np.float32)
    prediction = target.copy()
    prediction[RATE : 2 * RATE] *= 0.9  # only the second second is wrong: ESR 0.1**2 there
    seg = segment_esr(Evaluation(prediction, target, RATE, "test"), 1.0)
    assert list(seg.start_seconds) == [0.0, 1.0, 2.0]
    assert seg.esr[0] == 0 and seg.esr[2] == 0
    assert seg.esr[1] == pytest.approx(0.01, rel=1e-4)
    assert seg.level_db[1] == pytest.approx(20 * np.log10(0.5), abs=0.1)
    # Joined pieces of two captures: the worst segments name each end's capture and time there;
    # the last segment, 1.4 s with its short rest merged in, ends where the audio does (it
    # printed start + 1 s).
    joined = np.concatenate([target, target[: int(0.4 * RATE)]])
    wrong = joined.copy()
    wrong[-int(1.2 * RATE):] *= 0.5
    pieces = [(0, 0, 10 * RATE), (2 * RATE, 1, 0), (3 * RATE, 1, 5 * RATE)]
    ev = Evaluation(wrong, joined, RATE, "test", [("drive=0", 0), ("drive=12", 2 * RATE)], pieces=pieces)
    lines = worst_segment_lines(ev, segment_esr(ev, 1.0), 1.0, count=1)
    assert lines[1].startswith("  capture 1 (drive=12) 0.00 s .. capture 1 (drive=12) 5.40 s  ESR "), lines
    # A click after quiet noise: the onset is found within one 5 ms analysis frame.
    quiet = (1e-3 * rng.standard_normal(RATE)).astype(np.float32)
    quiet[30000:30480] += 0.8 * np.hanning(480).astype(np.float32)
    assert abs(transient_start(quiet, RATE) - 30000) <= 240
