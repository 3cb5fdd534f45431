"""Grey-box models: DSP and neural blocks in one chain, trained end to end by the same
training loop, exported to one file and run by the kernel with the torch model's sound."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pedalboard
import pytest
import torch

import neuralfx
from neuralfx.capture import capture
from neuralfx.dsp import ParametricEQ, Waveshaper
from neuralfx.model import Model
from neuralfx.models import LSTM
from neuralfx.training import Capture, TrainConfig, train, training_holdout, validate, warmup_length

from conftest import RATE, SIGNALS, kernel_blocks

TINY = dict(batch_size=4, tbptt_samples=512, chunks_per_segment=2, warmup_samples=256, validate_every=20,
            learning_rate=1e-2, patience=100)


@pytest.fixture(scope="module")
def amp_capture() -> Capture:
    # Input EQ, a clipper and output EQ: the shape the grey-box model is built to imitate.
    device = pedalboard.Pedalboard([
        pedalboard.LowShelfFilter(cutoff_frequency_hz=300.0, gain_db=6.0, q=0.707),
        pedalboard.Distortion(drive_db=12.0),
        pedalboard.HighShelfFilter(cutoff_frequency_hz=3000.0, gain_db=-8.0, q=0.707),
        pedalboard.Gain(gain_db=-4.0),
    ])
    return Capture(capture(device, RATE, 12.0))


def eq_lstm_eq() -> Model:
    torch.manual_seed(0)
    return Model([ParametricEQ([{"mode": "lowshelf", "frequency": 500.0}], RATE), LSTM(8, conditioning=[], skip=True),
                  ParametricEQ([{"mode": "highshelf", "frequency": 2000.0}], RATE)], RATE)


def dsp_values(model: Model) -> dict[str, float]:
    return {name: float(p.detach()) for name, p in model.named_parameters() if "bands" in name}


def test_eq_lstm_eq_trains_end_to_end_exports_and_matches_the_kernel(amp_capture: Capture, tmp_path: Path) -> None:
    model = eq_lstm_eq()
    start = copy.deepcopy(dsp_values(model))
    config = TrainConfig(max_steps=60, **TINY)
    held = training_holdout(config, amp_capture.pair.sample_rate, warmup_length(model, config))
    before = validate(model, [amp_capture], held).esr
    result = train([amp_capture], config, model=model)
    assert result.holdout == held
    assert result.lr_schedule == "plateau"  # "auto" with a network in the chain
    assert result.validation_esr < 0.5 * before, (before, result.validation_esr)
    # Gradients reached the DSP blocks on both sides of the network.
    moved = {k: v for k, v in dsp_values(result.model).items() if abs(v - start[k]) > 1e-3}
    assert any(k.startswith("blocks.0.") for k in moved) and any(k.startswith("blocks.2.") for k in moved), moved

    path = result.model.save(tmp_path / "greybox.nfx", {"name": "greybox"})
    loaded = Model.load(path)
    assert [type(b).__name__ for b in loaded.blocks] == ["ParametricEQ", "LSTM", "ParametricEQ"]
    x = np.concatenate([SIGNALS["sweep"](), SIGNALS["plucks"]()])
    with torch.no_grad():
        reference = loaded(torch.from_numpy(x)[None])[0][0].numpy()
    effect = neuralfx.NeuralEffect.from_file(path)
    for block in (1, 7, 64, 512, 4096):
        effect.reset()
        assert np.max(np.abs(kernel_blocks(effect, x, block) - reference)) <= 1e-4, block


def test_waveshaper_on_a_knob_and_gain_train_over_two_settings_and_match_the_kernel(tmp_path: Path) -> None:
    # All-DSP chain with the drive on a knob, trained over two knob settings at once: the level
    # after the clipper is learned; Pedalboard's Distortion is tanh(gain * x), see docs/DSP.md.
    from neuralfx.dsp import Gain
    from neuralfx.dsp.waveshaper import DRIVE_DB
    from neuralfx.knobs import Knob

    drive = Knob("drive_db", DRIVE_DB.min, DRIVE_DB.max, 12.0, "dB")  # a bound knob spans its parameter's range
    captures = [Capture(capture(pedalboard.Pedalboard([pedalboard.Distortion(drive_db=d), pedalboard.Gain(gain_db=-6.0)]),
                                RATE, 12.0), {"drive_db": d}) for d in (6.0, 18.0)]
    model = Model([Waveshaper("tanh", RATE, knobs={"drive_db": "drive_db"}), Gain()], RATE, [drive])
    # All DSP, no network: full-size DSP steps (grey-box chains take a tenth, TrainConfig.dsp_lr_scale).
    result = train(captures, TrainConfig(max_steps=80, dsp_lr_scale=1.0, **TINY), knobs=[drive], model=model)
    assert result.lr_schedule == "cosine"  # "auto" for DSP blocks alone
    assert abs(float(result.model.blocks[1].gain_db.detach()) + 6.0) < 0.5
    assert result.validation_esr < 0.01  # from 0.93 at the start
    path = result.model.save(tmp_path / "shaper.nfx")
    x = SIGNALS["plucks"](seconds=1.0)
    effect = neuralfx.NeuralEffect.from_file(path)
    for setting in (6.0, 12.0, 18.0):
        effect.set_knob("drive_db", setting)
        effect.reset()  # knobs jump to their set values on reset, as torch's constant knobs are
        knobs = torch.full((1, 1, len(x)), drive.normalize(setting))
        with torch.no_grad():
            reference = result.model(torch.from_numpy(x)[None], knobs)[0][0].numpy()
        assert np.max(np.abs(effect.process(x, RATE) - reference)) <= 1e-4, setting


def test_a_knob_bound_to_a_parameter_must_span_its_range() -> None:
    from neuralfx.errors import ModelFileError
    from neuralfx.knobs import Knob

    with pytest.raises(ModelFileError, match=r"knob 'drive' has range \[0, 36\]; parameter 'drive_db' of Waveshaper needs exactly \[-24, 48\] dB"):
        Model([Waveshaper("tanh", RATE, knobs={"drive_db": "drive"})], RATE, [Knob("drive", 0.0, 36.0, 12.0)])
