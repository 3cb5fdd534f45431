"""The command line, run as a user runs it (a subprocess), on generated audio."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import neuralfx

from neuralfx import audio

from conftest import plucks


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "neuralfx.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_demo_writes_the_processed_example(tmp_path: Path) -> None:
    r = run("demo", "--out-dir", "demo_out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    x, rate_x = audio.read(tmp_path / "demo_out" / "example_riff.wav")
    y, rate_y = audio.read(tmp_path / "demo_out" / "example_riff_default.wav")
    assert rate_x == rate_y == 48000 and x.shape == y.shape
    assert np.all(np.isfinite(y)) and np.sqrt(np.mean((y - x) ** 2)) > 0.01
    assert np.max(np.abs(y)) <= 1.0  # the default preset leaves headroom: playable as written
    assert "example_riff_default.wav" in r.stdout


def test_process_with_model_and_knob_errors(tmp_path: Path, lstm_model_path: Path) -> None:
    audio.write(tmp_path / "in.wav", plucks(0.5), 48000)
    r = run("process", "in.wav", "out.wav", "--model", str(lstm_model_path), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    y, rate = audio.read(tmp_path / "out.wav")
    expected = neuralfx.load(lstm_model_path)(plucks(0.5), 48000)
    assert rate == 48000 and y.shape == (1, len(expected))
    assert np.max(np.abs(y[0] - expected)) <= 1e-6
    r = run("process", "in.wav", "out2.wav", "--model", str(lstm_model_path), "--knob", "drive=3", cwd=tmp_path)
    assert r.returncode == 1 and "no knob 'drive'" in r.stderr
    assert not (tmp_path / "out2.wav").exists()
    r = run("process", "missing.wav", "out3.wav", cwd=tmp_path)
    assert r.returncode == 1 and "does not exist" in r.stderr


def test_process_other_rate_needs_resample(tmp_path: Path, lstm_model_path: Path) -> None:
    audio.write(tmp_path / "in44.wav", plucks(0.5, rate=44100), 44100)
    r = run("process", "in44.wav", "out.wav", "--model", str(lstm_model_path), cwd=tmp_path)
    # One model: no chain named; advice for the command (a review: "pass resample=True to the
    # Chain ... for neuralfx capture: --sample-rate" to a user who had made neither).
    assert r.returncode == 1 and ("the model was trained at 48000 Hz; 'in44.wav' is 44100 Hz: pass --resample "
                                  "(neuralfx process; from Python Chain(..., resample=True)) or convert the file to "
                                  "48000 Hz") in r.stderr, r.stderr
    r = run("process", "in44.wav", "out.wav", "--model", str(lstm_model_path), "--resample", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    y, rate = audio.read(tmp_path / "out.wav")
    expected = neuralfx.load(lstm_model_path, resample=True)(plucks(0.5, rate=44100), 44100)
    assert rate == 44100 and y.shape == (1, len(expected))
    assert np.max(np.abs(y[0] - expected)) <= 1e-6


def test_bad_arguments_and_outputs_say_what_to_do(tmp_path: Path) -> None:
    audio.write(tmp_path / "in.wav", plucks(0.1), 48000)
    audio.write(tmp_path / "silent.wav", np.zeros(4800, np.float32), 48000)
    audio.write(tmp_path / "half.wav", 0.5 * plucks(0.1), 48000)
    (tmp_path / "folder").mkdir()
    cases = [
        (["process", "in.wav", "out.wav", "--buffer-size", "0"], "--buffer-size: must be above 0, got 0"),
        (["process", "in.wav", "noext"], "has no extension to tell the format: e.g. 'noext.wav'"),
        (["process", "in.wav", "folder"], "is a folder: give a file name"),
        (["process", "in.wav", "o.wav", "--preset", "crunch_amp"],
         "chain preset 'crunch_amp' is neither a file nor a shipped one (default); 'crunch_amp' is a shipped model, "
         "not a chain preset"),
        # a shipped model's path in a checkout, run from elsewhere
        (["process", "in.wav", "o.wav", "--model", "presets/crunch_amp.nfx"],
         "is neither a file nor a shipped one (clean_amp, compressor, crunch_amp, high_gain_amp); a shipped model is "
         "named alone: 'crunch_amp'"),
        # a read-only place: it named a hidden temporary file, with no advice
        (["process", "in.wav", "/proc/o.wav"], "output /proc/o.wav: cannot write into /proc"),
        (["process", "in.wav", "out.wav", "--model", "crunch_amp", "--knob", "drive=3"], "error: model has no knob 'drive' (knobs: gain)"),
        # the last one won, silently
        (["process", "in.wav", "out.wav", "--model", "crunch_amp", "--knob", "gain=10", "--knob", "gain=2"],
         "neuralfx process: error: --knob gain is given twice (10 and 2): give it once"),
        (["process", "in.wav", "out.wav", "--model", "crunch_amp", "--knob", "gain"],
         "neuralfx process: error: --knob expects NAME=VALUE, got 'gain'"),  # without the prefix the others have
        # under the top-level usage, which lists the commands, not train's options
        (["train", "in.wav", "in.wav", "-o", "m.nfx", "--max-stepz", "3"],
         "neuralfx train: error: unrecognized arguments: --max-stepz 3"),
        # wrote the model's JSON under that name
        (["train", "in.wav", "in.wav", "-o", "take.WAV"],
         "-o take.WAV: a model file is JSON, not audio: give it a model file's name, e.g. take.nfx"),
        (["fit", "in.wav", "in.wav", "--chain", "gain", "-o", "g.flac"], "-o g.flac: a model file is JSON, not audio"),
        (["capture", "cap", "--plugin", "missing.vst3"], "missing.vst3' does not exist: give the path of a .vst3"),
        (["capture", "cap", "--chain", "default", "--sample-rate", "0"], "--sample-rate: must be above 0"),
        (["train", "a.wav", "b.wav", "-o", "m.nfx", "--max-steps", "0"], "--max-steps: must be above 0"),
        (["train", "a.wav", "b.wav", "-o", "m.nfx", "--dsp-lr-scale", "inf"], "--dsp-lr-scale: must be finite, got inf"),
        # Outputs are checked before the work that would be lost on them.
        (["train", "in.wav", "in.wav", "-o", "folder"], "-o folder is a folder: give a file name"),
        (["fit", "in.wav", "in.wav", "--chain", "gain", "-o", "folder"], "-o folder is a folder: give a file name"),
        (["report", "crunch_amp", "-o", "in.wav"], "-o in.wav is a file, not a folder"),
        (["capture", "in.wav", "--chain", "default"], "out_dir in.wav is a file, not a folder"),
        # An earlier capture's targets stayed beside the new files, and its manifest was replaced.
        (["capture", ".", "--chain", "default"],
         "out_dir . already holds folder, half.wav, in.wav, silent.wav: give a new or empty folder"),
        # The output is a positional argument: the message named an option `signal` does not have (-o).
        (["signal", "folder"], "output folder is a folder: give a file name (e.g. folder/signal.wav)"),
        # fit checks its pair as train does.
        (["fit", "in.wav", "silent.wav", "--chain", "gain"], "pair target is silent"),
        (["fit", "in.wav", "half.wav", "--chain", ""], "--chain '': expected comma-separated block names"),
        (["train", "in.wav", "in.wav", "-o", "m.nfx", "--arch", "tcn", "--hidden-size", "8"],
         "--hidden-size and --num-layers apply to lstm and gru; --arch tcn has a fixed layout"),
        # numpy's "expected non-negative integer" named no option
        (["train", "in.wav", "in.wav", "-o", "m.nfx", "--seed", "-5"], "--seed: must be at least 0, got -5"),
        # it was ignored
        (["train", "in.wav", "in.wav", "-o", "m.nfx", "--dsp-lr-scale", "2"],
         "--dsp-lr-scale sets the step of DSP blocks, which only a --template has; --arch lstm is a network alone"),
        (["train", "in.wav", "in.wav", "-o", "m.nfx", "--lr-schedule", "cosine", "--max-minutes", "5"],
         "--lr-schedule cosine decays over --max-steps, and --max-minutes alone sets no step limit"),
        # it wrote the example clip first
        (["demo", "--preset", "crunch_amp", "--out-dir", "d"], "'crunch_amp' is a shipped model, not a chain preset"),
        (["train", "in.wav", "in.wav", "-o", "m.nfx", "--no-align", "--polarity", "flip"],
         "--polarity and --max-latency act on the alignment, which --no-align skips: leave them out"),
        (["train", "in.wav", "in.wav", "-o", "m.nfx", "--no-align", "--max-latency", "0.01"],
         "--polarity and --max-latency act on the alignment, which --no-align skips: leave them out"),
    ]
    cases.append((["train", "in.wav", "in.wav", "-o", "m.nfx", "--device", "gpu"], "device 'gpu' is not a torch device"))
    # The model overwrote the checkpoint, and the next run could not resume from it.
    cases.append((["train", "in.wav", "half.wav", "-o", "m.nfx", "--checkpoint", "m.nfx"],
                  "--checkpoint m.nfx is the output model file: give the checkpoint a path of its own"))
    # A device torch names but cannot compute on ended in a traceback after the data checks.
    cases.append((["train", "in.wav", "in.wav", "-o", "m.nfx", "--device", "meta"],
                  "device 'meta': this torch cannot train on it (Tensor.item() cannot be called on meta tensors)"))
    if not torch.cuda.is_available():
        cases.append((["train", "in.wav", "in.wav", "-o", "m.nfx", "--device", "cuda"], "sees no CUDA GPU"))
    for args, message in cases:
        r = run(*args, cwd=tmp_path)
        assert r.returncode != 0 and message in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "half.wav", "in.wav", "silent.wav"]


def test_signal_writes_the_capture_signal_for_hardware(tmp_path: Path) -> None:
    # A device neuralfx cannot run (hardware) needs the signal as a file to play; there was no
    # command for it (capture needs --chain or --plugin).
    from neuralfx.capture import capture_signal

    r = run("signal", "sig.wav", "--seconds", "12", "--seed", "3", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "neuralfx train sig.wav RECORDED.wav -o MODEL.nfx" in r.stdout
    x, rate = audio.read(tmp_path / "sig.wav")
    assert rate == 48000 and np.array_equal(x[0], capture_signal(48000, 12.0, 3))
    # The hint is pasted into a shell: a name with a space broke it.
    r = run("signal", "my sig.wav", "--seconds", "12", cwd=tmp_path)
    assert "neuralfx train 'my sig.wav' RECORDED.wav -o MODEL.nfx" in r.stdout
    r = run("signal", "sig.mp3", "--seconds", "12", cwd=tmp_path)
    assert r.returncode == 1 and "sig.mp3: write the signal to a lossless file, .aif, .aiff, .flac, .wav" in r.stderr
    assert "a capture signal needs at least 12 seconds, got 5" in run("signal", "s.wav", "--seconds", "5",
                                                                      cwd=tmp_path).stderr
    assert "--sample-rate 44100.5: audio files take a whole number of Hz" in run(
        "signal", "s.wav", "--sample-rate", "44100.5", cwd=tmp_path).stderr


def test_info_prints_validation_esr_of_shipped_model(tmp_path: Path) -> None:
    (tmp_path / "crunch_amp").mkdir()  # a capture folder of that name does not hide the preset
    r = run("info", "crunch_amp", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "validation ESR:" in r.stdout and "48000 Hz" in r.stdout
    # Its LSTM-32: 4 gates x 32 units x (audio + the gain knob + 32) + the head's 32.
    assert "multiply-adds:  4384 per sample and channel" in r.stdout
    described = json.loads(run("info", "crunch_amp", "--json", cwd=tmp_path).stdout)
    assert described["multiply_adds_per_sample"] == 4384
    # The compressor preset scores about 1e-13, which five decimals printed as 0.00000; it was
    # trained validating on every second, crunch_amp before the spans, on each capture's end.
    for name, held in (("compressor", "the last 15% of every 1 s of each capture"),
                       ("crunch_amp", "the last 15% of each capture")):
        esr_line = next(line for line in run("info", name, cwd=tmp_path).stdout.splitlines() if "validation ESR" in line)
        assert re.fullmatch(rf"validation ESR: \d\.\d+(e-\d\d)? \(held out: {held}\)", esr_line.strip()), esr_line
    compressor = run("info", "compressor", cwd=tmp_path).stdout
    assert "5.1e-14" in compressor
    # A DSP block's settings are its weights, and a knob's parameter says so (a review: a fitted
    # cutoff showed only in the JSON).
    assert ("settings:       blocks[0] Compressor: threshold_db=knob 'threshold', ratio=knob 'ratio', knee_db=0, "
            "attack_ms=0.31831, release_ms=15.9155, makeup_db=3\n") in compressor
    described = json.loads(run("info", "compressor", "--json", cwd=tmp_path).stdout)["blocks"][0]
    assert described["knobs"] == {"threshold_db": "threshold", "ratio": "ratio"}
    assert described["settings"]["makeup_db"] == pytest.approx(3.0, abs=1e-5)
    assert "settings:" not in run("info", "crunch_amp", cwd=tmp_path).stdout  # a network's weights are not settings


def test_capture_then_train_from_the_shell(tmp_path: Path) -> None:
    preset = tmp_path / "dev.chain.json"
    preset.write_text('{"stages": [{"plugin": "Distortion", "params": {"drive_db": 12}}]}')
    r = run("capture", "cap", "--chain", str(preset), "--seconds", "12", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run("train", "cap/input.wav", "cap/target.wav", "-o", "m.nfx", "--hidden-size", "4", "--max-steps", "10", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run("info", "m.nfx", cwd=tmp_path)
    assert "(held out: the last 15% of every 1 s of each capture)" in r.stdout


def test_train_under_torchrun_with_two_cpu_processes(tmp_path: Path) -> None:
    """The same training runs under torchrun (DDP, gloo backend): two processes, one model out."""
    preset = tmp_path / "dev.chain.json"
    preset.write_text('{"stages": [{"plugin": "Distortion", "params": {"drive_db": 12}}]}')
    assert run("capture", "cap", "--chain", str(preset), "--seconds", "12", cwd=tmp_path).returncode == 0
    r = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "neuralfx.cli",
         "train", "cap/input.wav", "cap/target.wav", "-o", "ddp.nfx", "--hidden-size", "4", "--max-steps", "8"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "x 2 processes" in r.stdout
    assert r.stdout.count("wrote ddp.nfx") == 1
    assert "validation ESR:" in run("info", "ddp.nfx", cwd=tmp_path).stdout


def test_train_a_pair_recorded_elsewhere(tmp_path: Path) -> None:
    """Any pair: a stereo target at another level, 240 samples late and longer by that; the
    input is not the capture signal."""
    import pedalboard

    x = np.concatenate([plucks(6.0), plucks(6.0, seed=1)])
    y = pedalboard.Pedalboard([pedalboard.Distortion(drive_db=12), pedalboard.Gain(gain_db=-12)])(x, 48000)
    y = np.concatenate([np.zeros(240, np.float32), y])
    audio.write(tmp_path / "di.wav", x, 48000)
    audio.write(tmp_path / "amp.wav", np.stack([y, y]), 48000)
    r = run("train", "di.wav", "amp.wav", "-o", "m.nfx", "--hidden-size", "4", "--max-steps", "10", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "latency 240 samples (5.00 ms), polarity normal (removed)" in r.stdout
    info = run("info", "m.nfx", cwd=tmp_path).stdout
    assert "latency:        240 samples (5 ms) removed, polarity normal" in info


def test_train_stops_on_bad_data_with_what_to_do(tmp_path: Path) -> None:
    x = plucks(12.0)
    audio.write(tmp_path / "in.wav", x, 48000)
    audio.write(tmp_path / "hot.wav", np.clip(4 * x, -1, 1), 48000)
    audio.write(tmp_path / "inv.wav", -0.5 * x, 48000)
    r = run("train", "in.wav", "hot.wav", "-o", "m.nfx", cwd=tmp_path)
    assert r.returncode == 1 and "target clips" in r.stderr and "--allow-clipping" in r.stderr
    r = run("train", "in.wav", "inv.wav", "-o", "m.nfx", "--sample-rate", "44100", cwd=tmp_path)
    assert r.returncode == 1 and "48000 Hz but 44100 Hz was requested" in r.stderr
    r = run("train", "in.wav", "inv.wav", "-o", "m.nfx", cwd=tmp_path)
    assert r.returncode == 1 and "polarity is inverted" in r.stderr and "--polarity flip" in r.stderr
    assert not (tmp_path / "m.nfx").exists()
    r = run("train", "in.wav", "inv.wav", "-o", "m.nfx", "--polarity", "flip", "--hidden-size", "4",
            "--max-steps", "10", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "polarity inverted" in r.stdout and "target flipped back" in r.stdout
    # info said "polarity inverted" alike for a model trained on the flipped target and for one
    # that learnt to invert.
    assert "polarity inverted (flipped back for training)" in run("info", "m.nfx", cwd=tmp_path).stdout


def test_a_re_amp_file_trains_from_its_two_channels(tmp_path: Path) -> None:
    """The dry signal and the device's output on two channels of one file: only the first
    channel was read, so the pair was the file against itself (an identity model)."""
    from scipy.signal import butter, lfilter

    from neuralfx.capture import capture_signal

    x = capture_signal(48000, 12.0)
    b, a = butter(2, 3000 / 24000)
    audio.write(tmp_path / "reamp.wav", np.stack([x, 0.5 * np.tanh(3 * lfilter(b, a, x))]).astype(np.float32), 48000)
    r = run("train", "reamp.wav", "reamp.wav", "--input-channel", "1", "--target-channel", "2", "-o", "m.nfx",
            "--hidden-size", "4", "--max-steps", "10", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "the target is the input itself" not in r.stdout and "differing channels" not in r.stdout
    # report scores such a file too (it read channel 1 twice).
    r = run("report", "m.nfx", "-o", "rep", "--input", "reamp.wav", "--target", "reamp.wav", "--input-channel", "1",
            "--target-channel", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "differing channels" not in r.stdout
    # The model records the channels: info names them, and report takes them where none are
    # given (it scored channel 1 against channel 1 at ESR 0.44, a review).
    assert "trained on:     reamp.wav (channel 1) -> reamp.wav (channel 2)" in run("info", "m.nfx", cwd=tmp_path).stdout
    r2 = run("report", "m.nfx", "-o", "rep2", "--input", "reamp.wav", "--target", "reamp.wav", cwd=tmp_path)
    assert r2.returncode == 0, r2.stderr
    assert r2.stdout.split("ESR ")[1].split(",")[0] == r.stdout.split("ESR ")[1].split(",")[0], (r.stdout, r2.stdout)
    assert "(whole files, channels 1 -> 2 as the model was trained," in (tmp_path / "rep2" / "summary.txt").read_text()
    # One option given, the other as trained (giving one dropped both recorded channels).
    r3 = run("report", "m.nfx", "-o", "rep3", "--input", "reamp.wav", "--target", "reamp.wav", "--input-channel", "1",
             cwd=tmp_path)
    assert r3.returncode == 0 and "channels 1 -> 2 as the model was trained" in (tmp_path / "rep3" / "summary.txt").read_text()
    # fit records them as train does (it did not: report scored a fit of 5e-7 at 0.25, a review).
    r = run("fit", "reamp.wav", "reamp.wav", "--input-channel", "1", "--target-channel", "2", "--chain", "gain",
            "--steps", "5", "-o", "g.nfx", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "trained on:     reamp.wav (channel 1) -> reamp.wav (channel 2)" in run("info", "g.nfx", cwd=tmp_path).stdout
    assert neuralfx.modelfile.load(tmp_path / "g.nfx").metadata["channels"] == {"input": 1, "target": 2}
    r = run("train", "reamp.wav", "reamp.wav", "--target-channel", "3", "-o", "m.nfx", cwd=tmp_path)
    assert r.returncode == 1 and "target 'reamp.wav' has 2 channel(s): there is no channel 3" in r.stderr
    r = run("train", "reamp.wav", "reamp.wav", "-o", "m.nfx", "--max-steps", "1", cwd=tmp_path)
    assert "using the first (train, fit, report: --input-channel / --target-channel choose others)" in r.stdout
    assert "note: capture 0: the target is the input itself" in r.stdout


def test_knob_sweep_capture_then_train_with_held_out_setting(tmp_path: Path) -> None:
    import json

    from neuralfx import modelfile

    preset = tmp_path / "dev.chain.json"
    preset.write_text('{"stages": [{"plugin": "Distortion", "params": {"drive_db": 6}},'
                      ' {"plugin": "Gain", "params": {"gain_db": -6}}]}')
    r = run("capture", "cap", "--chain", str(preset), "--seconds", "12", "--sweep", "0.drive_db=0,12",
            "--heldout", "0.drive_db=6", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / "cap" / "manifest.json").read_text())
    assert [(c["target"], c["settings"], c["heldout"]) for c in manifest["captures"]] == [
        ("target_000.wav", {"drive_db": 0.0}, False), ("target_001.wav", {"drive_db": 12.0}, False),
        ("heldout_target.wav", {"drive_db": 6.0}, True)]
    r = run("train", "--manifest", "cap/manifest.json", "-o", "m.nfx", "--hidden-size", "4", "--max-steps", "10",
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    mf = modelfile.load(tmp_path / "m.nfx")
    assert [(k.name, k.min, k.max, k.default, k.unit) for k in mf.knobs] == [("drive_db", 0, 12, 6, "dB")]
    assert list(mf.metadata["heldout_esr"]) == ['{"drive_db": 6.0}']
    assert [a["latency_samples"] for a in mf.metadata["alignment"]] == [0, 0]
    assert "held-out ESR:" in run("info", "m.nfx", cwd=tmp_path).stdout
    # The manifest records the capture signal, so the model says how to remake its captures and
    # `report` needs no files (it asked for --input/--target): it scores what training scored.
    assert mf.metadata["capture"]["seconds"] == 12 and len(mf.metadata["capture"]["devices"]) == 2
    r = run("report", "m.nfx", "-o", "rep", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    reported = float(r.stdout.split("ESR ")[1].split(",")[0])
    assert reported == pytest.approx(mf.metadata["validation_esr"], rel=1e-4)
    # At a setting never trained on, the report captures the device there from the metadata (it
    # refused "not a trained setting"): at the held-out one it scores what training scored.
    assert mf.metadata["capture"]["controls"] == [{"knob": "drive_db", "stage": 0, "param": "drive_db"}]
    r = run("report", "m.nfx", "-o", "rep6", "--knob", "drive_db=6", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    reported = float(r.stdout.split("ESR ")[1].split(",")[0])
    assert reported == pytest.approx(mf.metadata["heldout_esr"]['{"drive_db": 6.0}'], rel=1e-4)
    assert "a setting never trained on (drive_db=6)" in (tmp_path / "rep6" / "summary.txt").read_text()


def test_a_delay_pedal_trains_and_reports_on_its_own_timing(tmp_path: Path) -> None:
    # docs/DSP.md's command. Aligned, the 0.7-mix capture lost 300 ms as "latency"; report then
    # aligned the remade captures although training had not (ESR 1.03 at mix 0.7 for 0.0036).
    (tmp_path / "delay.chain.json").write_text(json.dumps({"stages": [
        {"plugin": "Delay", "params": {"delay_seconds": 0.3, "feedback": 0.4, "mix": 0.5}}]}))
    r = run("capture", "cap", "--chain", "delay.chain.json", "--seconds", "12", "--sweep", "0.mix=0.3,0.7",
            "--heldout", "0.mix=0.5", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / "cap" / "manifest.json").read_text())
    manifest["knobs"][0].update(min=0, max=1)
    (tmp_path / "cap" / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "delay.json").write_text(json.dumps({"blocks": [{"type": "Delay", "config": {"knobs": {"mix": "mix"}}}]}))
    # The DSP step scale is the default for DSP blocks alone (2; at the old default of 0.1 the
    # feedback barely moved in 300 steps).
    r = run("train", "--manifest", "cap/manifest.json", "--template", "delay.json", "--no-align",
            "--batch-size", "4", "--max-steps", "300", "-o", "delay.nfx", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "blocks.0.delay_ms: started at 300 ms, the echo measured in the captures' responses" in r.stdout
    info = run("info", "delay.nfx", cwd=tmp_path).stdout
    assert "latency:        none removed (trained without alignment: the captures' timing is the device's)" in info
    assert "delay time:     blocks.0.delay_ms started at 300 ms, measured in the captures" in info
    # Feedback 0.4: the eighth repeat (0.4^8 = 6.6e-4) is the first below -60 dB, 8 x 300 ms.
    assert re.search(r"^tail:\s+2\.4\d* s after the input falls silent, at most \(its echoes to -60 dB\)$", info, re.M), info
    assert ("trained on:     knob captures cap/manifest.json of Delay {\"delay_seconds\": 0.3, \"feedback\": 0.4, "
            "\"mix\": 0.5}; knob mix sets stage 0's mix (0.3, 0.7)") in info
    model = neuralfx.modelfile.load(tmp_path / "delay.nfx")
    assert model.metadata["heldout_esr"]['{"mix": 0.5}'] < 1e-10  # 4.5e-13 here
    for knob in ("0.7", "0.5"):
        r = run("report", "delay.nfx", "-o", f"rep{knob}", "--knob", f"mix={knob}", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        summary = (tmp_path / f"rep{knob}" / "summary.txt").read_text()
        assert float(re.search(r"^ESR:\s+(\S+)", summary, re.M).group(1)) < 1e-6
        # The settings it trained to, and that it was scored on the captures' own timing.
        assert re.search(r"^settings:\s+blocks\[0\] Delay: delay_ms=300(\.\d+)?, feedback=0\.4\d*, mix=knob 'mix'$",
                         summary, re.M), summary
        assert "in the model; the device's timing kept (as trained: align off)" in summary


def test_train_a_template_of_dsp_blocks_on_knob_captures(tmp_path: Path) -> None:
    # Pedalboard's Compressor swept over its threshold, modelled from the shell by neuralfx's own
    # Compressor with Pedalboard's structure, its threshold on the captures' knob. Before
    # --template the CLI trained networks only.
    import json

    from neuralfx import modelfile

    (tmp_path / "comp.chain.json").write_text(json.dumps({"stages": [
        {"plugin": "Compressor", "params": {"threshold_db": -24, "ratio": 4, "attack_ms": 2, "release_ms": 100}},
        {"plugin": "Gain", "params": {"gain_db": 3}}]}))
    r = run("capture", "cap", "--chain", "comp.chain.json", "--seconds", "12", "--sweep", "0.threshold_db=-36,-20",
            "--heldout", "0.threshold_db=-28", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    compressor = {"type": "Compressor", "config": {"smoothing": "level", "knobs": {"threshold_db": "threshold_db"}}}
    (tmp_path / "model.json").write_text(json.dumps({"blocks": [compressor]}))
    train = ["train", "--manifest", "cap/manifest.json", "--template", "model.json", "--dsp-lr-scale", "1",
             "--max-steps", "300", "-o", "comp.nfx"]
    # The sweep's knob spans the values captured; one bound to a parameter must span its range.
    r = run(*train, cwd=tmp_path)
    assert r.returncode == 1 and ("knob 'threshold_db' has range [-36, -20]; parameter 'threshold_db' of Compressor "
                                  "needs exactly [-80, 0] dB: declare the knob with that range (for knob captures: "
                                  "its min and max in manifest.json)") in r.stderr, r.stderr
    manifest = json.loads((tmp_path / "cap" / "manifest.json").read_text())
    manifest["knobs"][0].update(min=-80, max=0)
    (tmp_path / "cap" / "manifest.json").write_text(json.dumps(manifest))
    r = run(*train, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    mf = modelfile.load(tmp_path / "comp.nfx")
    assert [b.type for b in mf.blocks] == ["Compressor"] and mf.version == 2
    assert [(k.name, k.min, k.max) for k in mf.knobs] == [("threshold_db", -80, 0)]
    # 7.1e-10 and 1.8e-10 here, at seeds 0-3 validation 1.9e-11 to 7.1e-10 and held-out at most
    # 1.7e-9 (docs/DSP.md); the first validation reads about 1e-3. On the plateau, the schedule
    # before "auto" took the cosine for DSP blocks alone, the steps oscillated near the optimum
    # and the run read 3.8e-6 and 1.5e-5.
    assert mf.metadata["config"]["lr_schedule"] == "cosine"
    assert mf.metadata["validation_esr"] < 1e-8
    assert mf.metadata["heldout_esr"]['{"threshold_db": -28.0}'] < 1e-8
    # It recorded arch lstm, hidden_size 32: the network --arch would have built, not this model.
    assert not {"arch", "hidden_size", "num_layers"} & set(mf.metadata["config"])
    assert mf.metadata["config"]["dsp_lr_scale"] == 1
    for template, message in [({"blocks": [compressor], "knobs": []}, "template: unknown entries ['knobs']"),
                              (None, "template: expected a JSON object"),  # null trained the default LSTM
                              # A model that ignores the swept knob trained silently.
                              ({"blocks": [{"type": "Compressor", "config": {"smoothing": "level"}}]},
                               "template: no block follows the captures' knob(s) threshold_db")]:
        (tmp_path / "bad.json").write_text(json.dumps(template))
        r = run("train", "--manifest", "cap/manifest.json", "--template", "bad.json", "-o", "bad.nfx", cwd=tmp_path)
        assert r.returncode == 1 and message in r.stderr, r.stderr
    # A checkpoint resumes only the model it was made for: one of the gain-smoothing Compressor
    # (weights of the same shapes) resumed silently, and the file then said the wrong ESR.
    (tmp_path / "gain.json").write_text(json.dumps({"blocks": [dict(compressor, config={**compressor["config"],
                                                                                       "smoothing": "gain"})]}))
    steps = ["--max-steps", "20", "--checkpoint", "ck.pt", "--dsp-lr-scale", "1"]
    assert run("train", "--manifest", "cap/manifest.json", "--template", "gain.json", *steps, "-o", "g.nfx",
               cwd=tmp_path).returncode == 0
    r = run("train", "--manifest", "cap/manifest.json", "--template", "model.json", *steps, "-o", "l.nfx", cwd=tmp_path)
    assert r.returncode == 1 and "was trained on other data or another model" in r.stderr, r.stderr
    r = run("train", "--manifest", "cap/manifest.json", "--template", "model.json", "--hidden-size", "8", "-o", "bad.nfx",
            cwd=tmp_path)
    assert r.returncode == 1 and "--template names the model's blocks" in r.stderr


def test_report_aligns_remade_captures_as_training_did(tmp_path: Path) -> None:
    # An inverting device trained with --polarity flip: the report scored the remade captures
    # unflipped (ESR 2.75 for a model whose validation ESR was 0.12).
    preset = tmp_path / "inv.chain.json"
    preset.write_text('{"stages": [{"plugin": "Distortion", "params": {"drive_db": 12}}, {"plugin": "Invert"}]}')
    assert run("capture", "cap", "--chain", str(preset), "--seconds", "12", cwd=tmp_path).returncode == 0
    r = run("train", "--manifest", "cap/manifest.json", "-o", "m.nfx", "--hidden-size", "4", "--max-steps", "10",
            "--polarity", "flip", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run("report", "m.nfx", "-o", "rep", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    from neuralfx import modelfile

    reported = float(r.stdout.split("ESR ")[1].split(",")[0])
    assert reported == pytest.approx(modelfile.load(tmp_path / "m.nfx").metadata["validation_esr"], rel=1e-4)
    # It flipped the target back without a word in the summary.
    assert ("polarity:         target inverted relative to the input in 1 of 1 scored capture(s): flipped back before "
            "scoring, as training flipped its captures") in (tmp_path / "rep" / "summary.txt").read_text()


def test_train_step_limit_and_a_model_worse_than_silence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    """With --max-minutes alone the default 4000 steps still cut the run (about a minute of a
    requested 30 on a GPU); a model worse than silence was written without a word."""
    from neuralfx import cli, training

    asked: list[int] = []

    def spy(captures, config, **kwargs) -> training.TrainResult:
        asked.append(config.max_steps)
        return training.TrainResult(training.build_model(config, 48000), 3.0, 1.0, 1, 0.1, [])

    monkeypatch.setattr(training, "train", spy)
    audio.write(tmp_path / "in.wav", plucks(0.5), 48000)
    out = str(tmp_path / "m.nfx")
    for extra in ([], ["--max-minutes", "30"], ["--max-minutes", "30", "--max-steps", "50"]):
        assert cli.main(["train", str(tmp_path / "in.wav"), str(tmp_path / "in.wav"), "-o", out, *extra]) == 0
    assert asked == [training.TrainConfig.max_steps, None, 50]
    assert "note: validation ESR 3.00000 is not below 1: the model does worse than silence would" in capsys.readouterr().err


def test_train_out_of_memory_says_to_lower_the_batch_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    """A --batch-size too large for the machine ended in torch's allocator traceback; other
    RuntimeErrors that mention allocation are not about memory and pass through."""
    from neuralfx import cli, training

    def failing(message: str):
        def train(*args, **kwargs):
            raise RuntimeError(message)
        return train

    audio.write(tmp_path / "in.wav", plucks(0.5), 48000)
    args = ["train", str(tmp_path / "in.wav"), str(tmp_path / "in.wav"), "-o", str(tmp_path / "m.nfx"),
            "--batch-size", "100000"]
    monkeypatch.setattr(training, "train", failing("DefaultCPUAllocator: can't allocate memory: you tried to allocate "
                                                   "3686400000 bytes"))
    assert cli.main(args) == 1
    assert ("out of memory training batches of 100000 segments (DefaultCPUAllocator: can't allocate memory: you tried "
            "to allocate 3686400000 bytes): lower --batch-size") in capsys.readouterr().err
    monkeypatch.setattr(training, "train", failing("The tensor has a non-zero number of elements, but its data is not "
                                                   "allocated yet."))
    with pytest.raises(RuntimeError, match="not allocated yet"):
        cli.main(args)


def test_python_dash_m_neuralfx_is_the_command(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "neuralfx", "info", "crunch_amp"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0 and "validation ESR" in r.stdout, r.stderr


def test_ctrl_c_says_interrupted_without_a_traceback(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from neuralfx import cli

    def interrupted(args) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_info", interrupted)
    assert cli.main(["info", "crunch_amp"]) == 130
    assert capsys.readouterr().err == "neuralfx info: interrupted\n"


def test_the_command_reaches_its_ctrl_c_handler_before_importing_torch(tmp_path: Path) -> None:
    # A Ctrl-C inside an import made before main() runs printed a traceback; torch's import
    # (~1.4 s) was that window until the package loaded its public names on first use, and
    # scipy.signal's (~1.3 s, for a constant of alignment.py) until alignment imported it on use.
    probe = ("import sys, neuralfx.cli; "
             "print(sorted(m for m in ('torch', 'neuralfx._core', 'scipy.signal') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and r.stdout.strip() == "[]", (r.stdout, r.stderr)
    loaded = "import neuralfx; print(neuralfx.load.__module__, neuralfx.ModelFileError.__name__, neuralfx._core.__name__)"
    r = subprocess.run([sys.executable, "-c", loaded], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.stdout.split() == ["neuralfx.effects", "ModelFileError", "neuralfx._core"], r.stderr
    with pytest.raises(AttributeError, match="no attribute 'lod'"):
        neuralfx.lod  # noqa: B018
    # Not the command's module: hasattr(neuralfx, "__main__") ran the command (a review).
    r = subprocess.run([sys.executable, "-c", "import neuralfx; print(hasattr(neuralfx, '__main__'), hasattr(neuralfx, ''))"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and r.stdout.split() == ["False", "False"], (r.stdout, r.stderr)


def test_a_closed_reader_ends_quietly_but_another_broken_pipe_is_reported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    import os

    from neuralfx import cli

    read_end, write_end = os.pipe()
    os.close(read_end)  # `neuralfx info X | head` after head has exited
    try:
        r = subprocess.run([sys.executable, "-m", "neuralfx.cli", "info", "crunch_amp"], cwd=tmp_path,
                           stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=600)
    finally:
        os.close(write_end)
    assert r.returncode == 1 and r.stderr == "", r.stderr

    def broken(args) -> int:  # a pipe of the command's own (a subprocess's stdin) broke: it was swallowed
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "cmd_info", broken)
    assert cli.main(["info", "crunch_amp"]) == 1
    assert capsys.readouterr().err == "neuralfx info: error: [Errno 32] Broken pipe\n"


def test_a_terminated_command_removes_its_unfinished_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    """`kill` (SIGTERM) ended the process where it stood: a file being written stayed behind as
    a hidden temporary file (.out.wav.XXXX.wav). It now ends as Ctrl-C does."""
    import os
    import signal
    import time

    from neuralfx import cli
    from neuralfx.audio import atomic_output

    def killed_while_writing(args) -> int:
        with atomic_output(tmp_path / "out.wav", 48000, 1) as out:
            out.write(np.zeros((1, 4800), np.float32))
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises before this ends
        return 0

    monkeypatch.setattr(cli, "cmd_process", killed_while_writing)
    assert cli.main(["process", "in.wav", str(tmp_path / "out.wav")]) == 143
    assert capsys.readouterr().err == "neuralfx process: terminated\n"
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is not cli._raise_terminated  # pytest's own handler is back


def test_process_says_what_a_clipping_format_clipped(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """WAV keeps levels above full scale (32-bit float); AIFF (which failed: it was asked for
    32 bits) and FLAC store 24-bit integers and clip them, which process now counts and says."""
    import json

    from neuralfx.cli import main

    t = np.arange(24000) / 48000
    audio.write(tmp_path / "in.wav", np.stack([np.sin(2 * np.pi * 220 * t), 0.1 * np.sin(2 * np.pi * 330 * t)]), 48000)
    (tmp_path / "hot.chain.json").write_text(json.dumps({"stages": [{"plugin": "Gain", "params": {"gain_db": 6}}]}))
    hot = ["--preset", str(tmp_path / "hot.chain.json")]
    assert main(["process", str(tmp_path / "in.wav"), str(tmp_path / "out.wav"), *hot]) == 0
    assert "(WAV, 32-bit float, 24000 frames, 2 ch" in capsys.readouterr().out
    y, _ = audio.read(tmp_path / "out.wav")
    above = int(np.count_nonzero(np.abs(y) > 1.0))
    assert above > 0 and np.max(np.abs(y)) > 1.9  # kept
    for suffix, name in ((".flac", "FLAC"), (".aiff", "AIFF")):
        assert main(["process", str(tmp_path / "in.wav"), str(tmp_path / f"out{suffix}"), *hot]) == 0
        out = capsys.readouterr().out
        assert f"({name}, 24-bit, 24000 frames" in out
        assert f"note: {above} of 48000 samples (all channels) were above full scale and {name} clipped them" in out
        clipped, _ = audio.read(tmp_path / f"out{suffix}")
        assert np.max(np.abs(clipped)) <= 1.0 + 1e-6  # full scale, as the integers read back
