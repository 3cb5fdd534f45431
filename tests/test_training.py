"""Training on a real (tiny) capture: the loss goes down, validation runs on the exported
model in the kernel, and the exported file carries the metrics."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import auraloss
import numpy as np
import pedalboard
import pytest
import torch

import neuralfx
from neuralfx import modelfile
from neuralfx.holdout import Holdout
from neuralfx.capture import capture
from neuralfx.knobs import Knob
from neuralfx.losses import LossWeights
from neuralfx.training import (Capture, TrainConfig, build_model, train, training_holdout, validate,
                               warmup_length)

TINY = dict(hidden_size=8, batch_size=4, tbptt_samples=512, chunks_per_segment=2, warmup_samples=256,
            validate_every=20, learning_rate=1e-2)
# For the tests that compare two runs bit for bit. A CUDA run does not repeat exactly: on an
# NVIDIA H200 (torch 2.11) seeded runs and a resumed run differed from their twins in the second
# or third digit of the validation ESR. The STFT loss pads with torch.stft's reflect mode, whose
# CUDA backward has no deterministic kernel (torch.use_deterministic_algorithms refuses it), so
# no setting makes such a run repeat.
EXACT = dict(TINY, device="cpu")


@pytest.fixture(scope="module")
def drive_capture() -> Capture:
    device = pedalboard.Pedalboard([pedalboard.Gain(gain_db=10), pedalboard.Distortion(drive_db=6),
                                    pedalboard.LowpassFilter(cutoff_frequency_hz=6000)])
    return Capture(capture(device, 48000, 12.0))


def test_training_reduces_validation_error_and_exports(drive_capture: Capture, tmp_path: Path) -> None:
    import torch

    config = TrainConfig(max_steps=60, patience=100, **TINY)
    torch.manual_seed(config.seed)
    untrained = build_model(config, 48000)
    held = training_holdout(config, 48000, warmup_length(untrained, config))
    before = validate(untrained, [drive_capture], held).esr
    lines: list[str] = []
    result = train([drive_capture], config, progress=lines.append)
    assert result.holdout == held
    assert result.steps == 60
    assert result.validation_esr < 0.5 * before, (before, result.validation_esr)
    assert any("validation ESR" in line for line in lines)
    # The exported file holds the metric, and the kernel reproduces it on the held-out audio.
    path = result.model.save(tmp_path / "m.nfx", result.metadata("test device", config, name="m"))
    meta = modelfile.load(path).metadata
    assert meta["validation_esr"] == pytest.approx(result.validation_esr)
    again = validate(neuralfx.model.Model.load(path), [drive_capture], result.holdout).esr
    assert meta["validation"] == {"fraction": 0.15, "span_samples": 48000, "context_samples": 4096}
    assert meta["config"]["lr_schedule"] == "plateau"  # "auto" resolved: a network
    assert isinstance(meta["validation"]["span_samples"], int)  # 48000.0 would be refused when read
    assert Holdout.of_model(meta, 48000) == result.holdout
    assert again == pytest.approx(result.validation_esr, rel=1e-4)


def test_early_stopping_and_seeded_repeatability(drive_capture: Capture) -> None:
    config = TrainConfig(max_steps=400, patience=1, learning_rate=1.0, **{k: v for k, v in TINY.items() if k != "learning_rate"})
    a = train([drive_capture], config, progress=lambda s: None)
    assert a.steps < 400  # stopped early: a huge learning rate stops improving fast
    short = TrainConfig(max_steps=20, patience=100, **EXACT)
    r1 = train([drive_capture], short, progress=lambda s: None)
    r2 = train([drive_capture], short, progress=lambda s: None)
    assert r1.validation_esr == r2.validation_esr


def test_knob_conditioned_training_uses_each_captures_setting(monkeypatch) -> None:
    knob = Knob("drive", 0.0, 20.0, 10.0, "dB")
    caps = [Capture(capture(pedalboard.Distortion(drive_db=d), 48000, 12.0), {"drive": d}) for d in (0.0, 20.0)]
    held = Capture(capture(pedalboard.Distortion(drive_db=10.0), 48000, 12.0, seed=1), {"drive": 10.0})
    config = TrainConfig(max_steps=20, patience=100, **TINY)
    fed: set[float] = set()  # the normalized knob values training batches carried
    forward = neuralfx.model.Model.forward

    def spy(self, x, knobs=None, state=None):
        if self.training and knobs is not None:
            fed.update(knobs[:, 0, 0].tolist())
        return forward(self, x, knobs, state)

    monkeypatch.setattr(neuralfx.model.Model, "forward", spy)
    lines: list[str] = []
    result = train(caps, config, knobs=[knob], progress=lines.append, heldout=[held])
    monkeypatch.undo()
    assert [k.name for k in result.model.knobs] == ["drive"]
    assert fed == {0.0, 1.0}  # drive 0 dB and 20 dB, normalized: each capture's own setting
    # The held-out setting is scored after training, on its whole capture, and recorded; the
    # score is recomputed here with the kernel and auraloss, not with training's own helper.
    assert list(result.heldout_esr) == ['{"drive": 10.0}']
    # A trained setting is not held out (a hand-edited manifest scored one as never trained on).
    with pytest.raises(ValueError, match=r"held-out capture 0 \(drive=20\) has the knob settings of training capture 1: "
                                         r"a held-out capture scores a setting never trained on"):
        train(caps, config, knobs=[knob], progress=lambda s: None, heldout=[Capture(held.pair, {"drive": 20.0})])
    effect = neuralfx.NeuralEffect.from_json(result.model.to_modelfile().to_json())
    effect.set_knob("drive", 10.0)
    prediction = effect(held.pair.input, 48000)
    expected = float(auraloss.time.ESRLoss()(torch.from_numpy(prediction)[None], torch.from_numpy(held.pair.target)[None]))
    assert result.heldout_esr['{"drive": 10.0}'] == pytest.approx(expected, rel=1e-5)
    assert result.metadata("t", config)["heldout_esr"] == result.heldout_esr
    assert any(line.startswith("held-out setting drive=10: ESR") for line in lines)
    # The pooled validation ESR weighs the loud capture most; each capture's own is printed and kept.
    alone = [validate(result.model, [c], result.holdout).esr for c in caps]
    assert result.validation_esr_per_capture == pytest.approx(alone, rel=1e-6)
    assert result.metadata("t", config)["validation_esr_per_capture"] == result.validation_esr_per_capture
    assert any(line.startswith("validation ESR per capture (the pooled one weighs loud captures most): 0 (drive=0): ")
               for line in lines)
    with pytest.raises(ValueError, match="no setting for knob 'drive'"):
        train([Capture(caps[0].pair)], config, knobs=[knob], progress=lambda s: None)


def test_too_short_or_mismatched_captures_are_refused(drive_capture: Capture) -> None:
    # A slice with sound in it: the data checks pass, the length check refuses it.
    loudest = int(np.argmax(np.abs(drive_capture.pair.input)))
    mid = slice(loudest - 1000, loudest + 1000)
    short = Capture(replace(drive_capture.pair, input=drive_capture.pair.input[mid], target=drive_capture.pair.target[mid]))
    # The message says how long is enough (it named an option train's command line lacks).
    with pytest.raises(ValueError, match=r"capture 0 is too short \(2000 samples, 0.04 s\): it needs at least "
                                         r"\d+ samples \(\d.\d\d s at 48000 Hz\)"):
        train([short], TrainConfig(**TINY), progress=lambda s: None)
    other = Capture(replace(drive_capture.pair, sample_rate=44100))
    with pytest.raises(ValueError, match="different sample rates"):
        train([drive_capture, other], TrainConfig(**TINY), progress=lambda s: None)
    # Knobs other than the given model's (an IndexError inside its forward before).
    model = build_model(TrainConfig(**TINY), 48000, [Knob("drive", 0.0, 1.0, 0.5)])
    with pytest.raises(ValueError, match=r"knobs \['gain'\] are not the model's knobs \(\['drive'\].*knobs=model.knobs"):
        train([drive_capture], TrainConfig(**TINY), [Knob("gain", 0.0, 1.0, 0.5)], model=model, progress=lambda s: None)
    # 0 or 1 left nothing to validate or train on, and the search for the shortest length never
    # ended; so did 1e-17 (1 - 1e-17 is 1.0: nothing held out).
    for fraction in (0.0, 1.0, 1e-17):
        with pytest.raises(ValueError, match=f"validation_fraction must be at least 0.001 and below 1.*got {fraction}"):
            TrainConfig(**TINY, validation_fraction=fraction)
    for seconds in (0.0, 1e305):  # the second overflowed converting seconds to samples
        with pytest.raises(ValueError, match=f"TrainConfig.validation_span_seconds must be"):
            TrainConfig(**TINY, validation_span_seconds=seconds)


def test_a_capture_whose_validated_tail_is_silent_is_refused(drive_capture: Capture) -> None:
    """A capture ringing out into silence scored validation ESRs of 3e7 and worse, and training
    kept whichever weights read lowest on that noise."""
    pair = drive_capture.pair
    cut = int(0.8 * len(pair.input))
    silent_end = replace(pair, input=np.concatenate([pair.input[:cut], np.zeros(len(pair.input) - cut, np.float32)]),
                         target=np.concatenate([pair.target[:cut], np.zeros(len(pair.target) - cut, np.float32)]))
    with pytest.raises(ValueError, match=r"the last 15% of capture 0's target, which is validated on, is silent: "
                                         r"cut the silence from the end of both files"):
        train([Capture(silent_end)], TrainConfig(**TINY, validation_span_seconds=None), progress=lambda s: None)
    # Held out from every 1 s (the default), a silent end leaves sound to validate on; silence in
    # every held-out piece does not.
    held = training_holdout(TrainConfig(**TINY), 48000, TINY["warmup_samples"])
    quiet = np.ones(len(pair.input), np.float32)
    for lo, hi in held.held_out(len(quiet)):
        quiet[lo:hi] = 0
    silent_pieces = replace(pair, input=pair.input * quiet, target=pair.target * quiet)
    with pytest.raises(ValueError, match=r"the last 15% of every 1 s of capture 0's target, which is validated "
                                         r"on, is silent: cut the silent stretches of both files"):
        train([Capture(silent_pieces)], TrainConfig(**TINY), progress=lambda s: None)


def test_config_values_that_cannot_train_are_refused() -> None:
    """From Python they reached the loop: a ZeroDivisionError, an UnboundLocalError, or a model
    trained away from its target."""
    for entry, value in (("validate_every", 0), ("chunks_per_segment", 0), ("batch_size", 0), ("max_steps", 2.5),
                         ("warmup_samples", 0), ("learning_rate", -1.0), ("max_seconds", -5.0), ("patience", True)):
        with pytest.raises(ValueError, match=f"TrainConfig.{entry} must be"):
            TrainConfig(**{entry: value})
    with pytest.raises(ValueError, match="TrainConfig.lr_schedule must be one of auto, plateau, cosine, got 'linear'"):
        TrainConfig(lr_schedule="linear")
    with pytest.raises(ValueError, match="'cosine' decays over max_steps: set max_steps, or use 'plateau'"):
        TrainConfig(lr_schedule="cosine", max_steps=None)


def test_convolutional_networks_warm_up_over_their_receptive_field() -> None:
    """A TCN warmed up on 1024 of its 4093 samples of context: its first chunk's output was
    0.0038 (ESR) off what it gives mid-stream, 7 % of the trained model's error."""
    from neuralfx.training import warmup_length

    from neuralfx.dsp import DryWet
    from neuralfx.models import TCN

    config = TrainConfig()
    assert warmup_length(build_model(config, 48000), config) == config.warmup_samples
    for arch in ("tcn", "wavenet-standard"):
        model = build_model(replace(config, arch=arch), 48000)
        assert warmup_length(model, config) == model.blocks[0].receptive_field - 1 > config.warmup_samples
    # Two in series keep the sum of their histories, one inside a DryWet its own.
    tcn = TCN(channels=4, kernel_size=3, dilations=[1, 512, 1024])
    history = tcn.receptive_field - 1  # 3074 samples
    assert warmup_length(neuralfx.model.Model([tcn, TCN(channels=4, kernel_size=3, dilations=[1, 512, 1024])], 48000),
                         config) == 2 * history
    assert warmup_length(neuralfx.model.Model([DryWet([TCN(channels=4, kernel_size=3, dilations=[1, 512, 1024])])],
                                              48000), config) == history
    # A Delay keeps 8 repeats of its time (a 300 ms echo never reached a 1024-sample warm-up's
    # segment); one on a knob, its longest; inside a DryWet and after a TCN, all add up.
    from neuralfx.dsp import Delay

    assert warmup_length(neuralfx.model.Model([Delay(48000, 1000.0, delay_ms=300.0)], 48000), config) == 8 * 14400
    knob = Knob("time", 1.0, 1000.0, 300.0, "ms")
    bound = Delay(48000, 1000.0, knobs={"delay_ms": "time"})
    assert warmup_length(neuralfx.model.Model([bound], 48000, [knob]), config) == 8 * 48000
    # At the most the data sets it to, where that is known (train: the captures' settings).
    assert warmup_length(neuralfx.model.Model([bound], 48000, [knob]), config, {"time": 300.0}) == 8 * 14400
    chain = neuralfx.model.Model([TCN(channels=4, kernel_size=3, dilations=[1, 512, 1024]),
                                  DryWet([Delay(48000, 100.0, delay_ms=12.5)])], 48000)
    assert warmup_length(chain, config) == history + 8 * 600
    # And training runs that warm-up before each segment (the test above would pass a train
    # that went back to warmup_samples).
    warmups: list[int] = []
    forward = neuralfx.model.Model.forward

    def spy(self, x, knobs=None, state=None):
        if self.training and not torch.is_grad_enabled():
            warmups.append(x.shape[1])
        return forward(self, x, knobs, state)

    model = neuralfx.model.Model([tcn], 48000)
    pedal = pedalboard.Distortion(drive_db=6)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(neuralfx.model.Model, "forward", spy)
        train([Capture(capture(pedal, 48000, 12.0))], TrainConfig(max_steps=2, **TINY), model=model, progress=lambda s: None)
        assert warmups == [history]
        # A time on a knob: 8 repeats of the longest the captures set (100 ms), not of its 1000 ms top.
        warmups.clear()
        from neuralfx.dsp.delay import FEEDBACK

        knobs = [Knob("time", 1.0, 1000.0, 300.0, "ms"), Knob("repeats", FEEDBACK.min, FEEDBACK.max, 0.0)]
        delay = neuralfx.model.Model([Delay(48000, 1000.0, knobs={"delay_ms": "time", "feedback": "repeats"})],
                                     48000, knobs)
        pair = capture(pedal, 48000, 12.0)
        captures = [Capture(pair, {"time": ms, "repeats": 0.0}) for ms in (50.0, 100.0)]
        train(captures, TrainConfig(max_steps=2, **TINY), model=delay, progress=lambda s: None)
    assert warmups == [8 * 4800]


def test_train_leaves_the_callers_torch_threads_as_they_were(drive_capture: Capture) -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        train([drive_capture], TrainConfig(max_steps=2, threads=1, **TINY), progress=lambda s: None)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_resumed_run_equals_uninterrupted_run(drive_capture: Capture, tmp_path: Path) -> None:
    straight = train([drive_capture], TrainConfig(max_steps=40, patience=100, **EXACT), progress=lambda s: None)
    checkpoint = str(tmp_path / "run.ckpt")
    first = TrainConfig(max_steps=20, patience=100, checkpoint=checkpoint, **EXACT)
    train([drive_capture], first, progress=lambda s: None)
    lines: list[str] = []
    second = TrainConfig(max_steps=40, patience=100, checkpoint=checkpoint, **EXACT)
    resumed = train([drive_capture], second, progress=lines.append)
    assert any("resumed from" in line and "step 20" in line for line in lines)
    assert resumed.steps == 40
    assert resumed.validation_esr == straight.validation_esr
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name


def test_a_cosine_run_resumed_midway_equals_the_uninterrupted_run(drive_capture: Capture, tmp_path: Path) -> None:
    # The cosine's rate is a function of the step and max_steps: a run killed after its step-20
    # checkpoint and started again goes on exactly as if never stopped.
    import shutil

    checkpoint, midway = tmp_path / "run.ckpt", tmp_path / "midway.ckpt"

    def keep_midway(line: str) -> None:
        if line.startswith("step    40"):  # the checkpoint on disk is still the one of step 20
            shutil.copy(checkpoint, midway)

    config = TrainConfig(max_steps=60, patience=100, lr_schedule="cosine", checkpoint=str(checkpoint), **EXACT)
    straight = train([drive_capture], config, progress=keep_midway)
    assert straight.lr_schedule == "cosine"
    rates = [torch.load(path, weights_only=True)["optimizer"]["param_groups"][0]["lr"] for path in (midway, checkpoint)]
    assert rates[0] == pytest.approx(0.01 * 0.5 * (1 + np.cos(np.pi * 20 / 60)))
    assert abs(rates[1]) < 1e-12  # decayed to 0 at max_steps
    lines: list[str] = []
    resumed = train([drive_capture], replace(config, checkpoint=str(midway)), progress=lines.append)
    assert any("resumed from" in line and "step 20" in line for line in lines)
    assert resumed.validation_esr == straight.validation_esr
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name
    # A run on the plateau refuses the cosine's checkpoint, saying so.
    with pytest.raises(ValueError, match=r"was made on the cosine learning-rate schedule and this run takes the plateau "
                                         r"one \(lr_schedule 'plateau', or 'auto' for a network or a run with a time "
                                         r"limit\): resume it with lr_schedule 'cosine' \(--lr-schedule cosine and a "
                                         r"step limit\)"):
        train([drive_capture], replace(config, lr_schedule="plateau", checkpoint=str(midway)), progress=lambda s: None)
    # Resumed with a larger max_steps, the first step takes the longer curve's rate (it took the
    # saved one, of the shorter curve), and the run goes on to the new limit.
    lines.clear()
    longer = train([drive_capture], replace(config, max_steps=100, max_seconds=None), progress=lines.append)
    assert longer.steps == 100 and any("step 60" in line for line in lines)
    first_rate = torch.load(checkpoint, weights_only=True)  # rewritten at step 100: its rate is the curve's end
    assert abs(first_rate["optimizer"]["param_groups"][0]["lr"]) < 1e-12


def test_a_cosine_run_goes_to_max_steps_without_stopping_early(tmp_path: Path) -> None:
    # A run that cannot improve (a Gain already at the device's 0 dB: its validation ESR stays
    # 0) stops after `patience` validations on the plateau; on the cosine, stopping early kept
    # the rate high (the compressor recipe stopped at step 1200 of 3000, 20x worse), so it runs on.
    from neuralfx.dsp import Gain
    from neuralfx.model import Model

    pair = capture(pedalboard.Pedalboard([pedalboard.Gain(gain_db=0.0)]), 48000, 12.0)
    for schedule, steps in (("plateau", 3 * 20), ("cosine", 200)):  # the first validation improves on none
        model = Model([Gain()], 48000)
        lines: list[str] = []
        config = TrainConfig(max_steps=200, patience=2, lr_schedule=schedule, checkpoint=str(tmp_path / schedule),
                             **EXACT)
        result = train([Capture(pair)], config, model=model, progress=lines.append)
        assert result.steps == steps, schedule
        # The weights kept are the first validation's, which the model file and the last line say
        # (they said "after 200 steps" alone, and info "train steps: 200").
        assert result.metadata("x", config)["best_step"] == 20
        assert any(line.endswith("(the weights kept are step 20's)") for line in lines), lines[-3:]
        # A target that is its input (the same file given twice) trained without a word.
        assert "note: capture 0: the target is the input itself, sample for sample" in "\n".join(lines)
    # The same command again trains nothing: it resumed the early-stopped run and trained on to
    # the next validation, and the one after, a few steps a time. A larger patience goes on.
    config = TrainConfig(max_steps=200, patience=2, lr_schedule="plateau", checkpoint=str(tmp_path / "plateau"), **EXACT)
    lines = []
    assert train([Capture(pair)], config, model=Model([Gain()], 48000), progress=lines.append).steps == 60
    assert any(line.endswith(": nothing left to train, it stopped early (no improvement in 2 validations, "
                             "patience 2): raise patience to go on") for line in lines), lines
    assert train([Capture(pair)], replace(config, patience=3), model=Model([Gain()], 48000),
                 progress=lambda s: None).steps == 80


def test_a_cosine_cut_short_by_the_time_limit_says_so(drive_capture: Capture) -> None:
    # A time limit may end the cosine while the rate is high (a slow machine building the
    # compressor recipe): the best weights are kept, and the run says it did not settle.
    from neuralfx.dsp import Gain
    from neuralfx.model import Model

    lines: list[str] = []
    config = TrainConfig(max_steps=100_000, max_seconds=1.0, lr_schedule="cosine", **EXACT)
    result = train([drive_capture], config, model=Model([Gain()], 48000), progress=lines.append)
    assert result.steps < 100_000
    notes = [line for line in lines if line.startswith("note: the time limit ended the cosine")]
    assert len(notes) == 1 and f"at step {result.steps} of 100000" in notes[0], lines[-4:]
    share = 0.5 * (1 + np.cos(np.pi * result.steps / 100_000))
    assert f"still {share:.0%} of its start" in notes[0]
    lines.clear()  # a run that reaches its step limit has nothing to say
    train([drive_capture], replace(config, max_steps=20, max_seconds=None), model=Model([Gain()], 48000),
          progress=lines.append)
    assert not any("time limit" in line for line in lines)


def test_auto_takes_the_cosine_for_dsp_blocks_alone_with_a_step_limit_alone() -> None:
    from neuralfx.schedules import resolve_schedule

    assert resolve_schedule("auto", 300, None, dsp_only=True) == "cosine"
    assert resolve_schedule("auto", 300, None, dsp_only=False) == "plateau"
    assert resolve_schedule("auto", None, 60.0, dsp_only=True) == "plateau"
    # A time limit may end the run before the cosine has brought the rate down.
    assert resolve_schedule("auto", 300, 60.0, dsp_only=True) == "plateau"
    assert resolve_schedule("cosine", 300, 60.0, dsp_only=True) == "cosine"


def test_a_delay_pedal_swept_over_its_mix_trains_on_its_own_timing() -> None:
    # Pedalboard's Delay (300 ms, feedback 0.4) at mix 0.3 and 0.7, held out at 0.5, modelled by
    # neuralfx's Delay with its mix on the knob. Before: alignment took the 0.7 capture's echo for
    # its latency, descent did not find the time (from 500 ms: ESR 0.59), and the feedback, whose
    # gradient came from a warm-up run without one, stayed at 0 (ESR 0.14).
    from neuralfx.dsp import Delay
    from neuralfx.model import Model

    knob = Knob("mix", 0.0, 1.0, 0.5, "")
    captures, held = [[Capture(capture(pedalboard.Pedalboard([pedalboard.Delay(0.3, 0.4, mix)]), 48000, 12.0),
                               {"mix": mix}) for mix in mixes] for mixes in ((0.3, 0.7), (0.5,))]
    config = TrainConfig(align=False, batch_size=4, learning_rate=0.01, dsp_lr_scale=1.0, max_steps=300, device="cpu")
    lines: list[str] = []
    train([captures[1]], replace(config, align=True, max_steps=1), knobs=[knob],
          model=Model([Delay(48000, knobs={"mix": "mix"})], 48000, [knob]), progress=lines.append)
    assert "note: capture 0's latency of 300.00 ms was removed, and the model has a Delay" in "\n".join(lines)
    lines.clear()
    result = train(captures, config, knobs=[knob], model=Model([Delay(48000, knobs={"mix": "mix"})], 48000, [knob]),
                   heldout=held, progress=lines.append)
    assert "captures not aligned (align off): their timing is the device's" in lines
    assert "blocks.0.delay_ms: started at 300 ms, the echo measured in the captures' responses" in lines
    assert abs(result.measured["blocks.0.delay_ms"] - 300.0) * 48 < 0.01
    delay = result.model.blocks[0]
    assert abs(delay.delay_ms.item() - 300.0) * 48 < 0.01 and abs(delay.feedback.item() - 0.4) < 1e-4
    # 4.5e-13 here; validation reads 6.3e-9, its context (8 repeats) leaving out older echoes
    assert result.heldout_esr['{"mix": 0.5}'] < 1e-10
    assert result.metadata("x", config)["measured_delay_ms"] == result.measured
    # Beside a network the warm-up keeps no gradients (an LSTM-16 + Delay step cost 14x), and says
    # what that leaves out.
    from neuralfx.models import LSTM

    lines.clear()
    train(captures, replace(config, max_steps=1), knobs=[knob], progress=lines.append,
          model=Model([LSTM(hidden_size=4), Delay(48000, knobs={"mix": "mix"})], 48000, [knob]))
    assert any(line.startswith("note: beside a network a Delay's feedback learns only from echoes inside a segment "
                               "(8192 samples after the warm-up") for line in lines), lines
    # Aligned, the ambiguity error says what to do.
    with pytest.raises(ValueError, match="train a model with a Delay block on the pair's own timing"):
        train([Capture(capture(pedalboard.Pedalboard([pedalboard.Delay(0.3, 0.4, 0.5)]), 48000, 12.0), {"mix": 0.5})],
              replace(config, align=True), knobs=[knob], progress=lambda s: None)
    for given in ({"polarity": "flip"}, {"max_latency_seconds": 0.01}):  # the CLI refused them, Python did not
        with pytest.raises(ValueError, match="TrainConfig.polarity and max_latency_seconds act on the alignment, and "
                                             "align is False"):
            replace(config, **given)


def test_a_model_with_nothing_to_train_is_refused(drive_capture: Capture) -> None:
    from neuralfx.dsp import Gain
    from neuralfx.model import Model

    knob = Knob("level", -60.0, 24.0, 0.0, "dB")  # a bound knob spans its parameter's range
    model = Model([Gain(knobs={"gain_db": "level"})], 48000, [knob])
    with pytest.raises(ValueError, match="nothing to train: the model has no network, and every parameter of its DSP "
                                         "blocks is bound to a knob"):
        train([Capture(drive_capture.pair, {"level": 0.0})], TrainConfig(**TINY), knobs=[knob], model=model,
              progress=lambda s: None)


def test_dsp_blocks_alone_step_at_fits_rate_and_beside_a_network_at_a_tenth(
        drive_capture: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    """dsp_lr_scale None: 2 for DSP blocks alone (0.1 left 300-step Compressor and Delay
    templates at ESR 0.01-0.1, docs/DSP.md), 0.1 beside a network; a value given is kept. The
    optimizer's rates and the file's config say which was taken."""
    from neuralfx import training as training_module
    from neuralfx.dsp import Gain
    from neuralfx.dsp import params as dsp_params
    from neuralfx.model import Model

    rates: list[float] = []
    groups = dsp_params.optimizer_groups

    def spy(model, lr, dsp_scale=1.0, own_rates=None):
        made = groups(model, lr, dsp_scale, own_rates)
        rates.extend(g["lr"] for g in made if g["params"][0] is getattr(model.blocks[0], "gain_db", None))
        return made

    monkeypatch.setattr(training_module, "optimizer_groups", spy)
    gain_range = 84.0  # Gain's gain_db spans -60..24 dB
    for blocks, scale, taken in (([Gain()], None, 2.0), ([Gain(), build_model(TrainConfig(**TINY), 48000).blocks[0]],
                                                          None, 0.1), ([Gain()], 0.5, 0.5)):
        rates.clear()
        config = TrainConfig(**{**TINY, "max_steps": 2}, dsp_lr_scale=scale)
        result = train([drive_capture], config, model=Model(blocks, 48000), progress=lambda s: None)
        assert rates == [pytest.approx(TINY["learning_rate"] * taken * gain_range)], (blocks, rates)
        assert result.metadata("x", config)["config"]["dsp_lr_scale"] == taken


def test_a_run_that_ends_inside_a_segment_leaves_a_checkpoint(drive_capture: Capture, tmp_path: Path) -> None:
    # 9 steps end inside the fifth 2-step segment, before any validation: nothing was saved, and a
    # longer run with the same checkpoint started from scratch without a word.
    checkpoint = tmp_path / "run.ckpt"
    train([drive_capture], TrainConfig(max_steps=9, patience=100, checkpoint=str(checkpoint), **EXACT),
          progress=lambda s: None)
    assert checkpoint.exists()
    lines: list[str] = []
    resumed = train([drive_capture], TrainConfig(max_steps=20, patience=100, checkpoint=str(checkpoint), **EXACT),
                    progress=lines.append)
    assert any("resumed from" in line and "step 9" in line and "inside a segment" in line for line in lines)
    assert resumed.steps == 20


def test_a_checkpoint_of_other_data_is_refused(drive_capture: Capture, tmp_path: Path) -> None:
    # Every run now leaves a checkpoint: reused for another capture, it "resumed" at its last
    # step, trained nothing and reported the old model's ESR as the new one's.
    checkpoint = str(tmp_path / "run.ckpt")
    config = TrainConfig(max_steps=9, patience=100, checkpoint=checkpoint, **EXACT)
    train([drive_capture], config, progress=lambda s: None)
    lines: list[str] = []
    train([drive_capture], config, progress=lines.append)
    assert any("nothing left to train up to max_steps 9" in line for line in lines)
    # The time limit counts the runs before: spent, a resumed run trained one more step, unsaid.
    lines.clear()
    spent = train([drive_capture], replace(config, max_steps=100, max_seconds=6e-5), progress=lines.append)
    assert spent.steps == 9
    assert any("min of training already use the time limit of 1e-06 min" in line for line in lines), lines
    other = Capture(replace(drive_capture.pair, target=0.5 * drive_capture.pair.target))
    with pytest.raises(ValueError, match="was trained on other data"):
        train([other], config, progress=lambda s: None)
    # What shapes each step must match too, named (a changed batch size, loss or seed resumed
    # without a word, and the model file named them for the whole run).
    with pytest.raises(ValueError, match=r"\(it was made with batch_size 4, seed 0; this run has batch_size 8, seed 5\): "
                                         "delete it, or give this run another checkpoint path"):
        train([drive_capture], replace(config, batch_size=8, seed=5), progress=lambda s: None)
    with pytest.raises(ValueError, match=r"it was made with loss \{'esr': 1\.0, 'dc': 1\.0, 'stft': 0\.1\}"):
        train([drive_capture], replace(config, loss=LossWeights(1.0, 0.0, 0.0)), progress=lambda s: None)
    # Another architecture: torch's state-dict dump of missing and unexpected keys before.
    with pytest.raises(ValueError) as error:
        train([drive_capture], replace(config, arch="gru"), progress=lambda s: None)
    assert (f"checkpoint '{checkpoint}' was trained on other data or another model (it was made for "
            f"LSTM(hidden_size={config.hidden_size}, num_layers=1, skip=true), this run trains "
            f"GRU(hidden_size={config.hidden_size}, num_layers=1, skip=true)): delete it") in str(error.value)


def test_a_file_that_is_no_checkpoint_is_named_not_unpickled(drive_capture: Capture, tmp_path: Path) -> None:
    """A model file, text or a cut-off checkpoint ended in torch's tracebacks (one advising
    weights_only=False, which would run the file's pickle)."""
    checkpoint = tmp_path / "run.ckpt"
    config = TrainConfig(max_steps=3, patience=100, checkpoint=str(checkpoint), **EXACT)
    train([drive_capture], config, progress=lambda s: None)
    whole = checkpoint.read_bytes()
    for content in (b"not a checkpoint", whole[: len(whole) // 2], build_model(TrainConfig(**EXACT), 48000).to_modelfile().to_json().encode()):
        checkpoint.write_bytes(content)
        with pytest.raises(ValueError, match=f"checkpoint '{re.escape(str(checkpoint))}' is not a neuralfx training "
                                             r"checkpoint \(a model file, another file, or a checkpoint cut short\): "
                                             "give --checkpoint"):
            train([drive_capture], config, progress=lambda s: None)


def test_a_checkpoint_of_an_earlier_neuralfx_resumes(drive_capture: Capture, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Checkpoints made before the step settings were recorded carry a digest without them: every
    # one was refused as "trained on other data" once they were added.
    import neuralfx.training as training

    checkpoint = tmp_path / "old.ckpt"
    current = training._run_fingerprints
    monkeypatch.setattr(training, "_run_fingerprints", lambda *a: (current(*a)[1],) * 2)  # written as then
    config = TrainConfig(max_steps=10, patience=100, checkpoint=str(checkpoint), **EXACT)
    train([drive_capture], config, progress=lambda s: None)
    monkeypatch.undo()
    saved = torch.load(checkpoint, weights_only=True)
    del saved["settings"]  # an earlier neuralfx wrote none
    torch.save(saved, checkpoint)
    lines: list[str] = []
    assert train([drive_capture], replace(config, max_steps=20), progress=lines.append).steps == 20
    assert any("resumed from" in line and "step 10" in line for line in lines)
    # Its data still has to match.
    torch.save(saved, checkpoint)
    other = Capture(replace(drive_capture.pair, target=0.5 * drive_capture.pair.target))
    with pytest.raises(ValueError, match="was trained on other data"):
        train([other], replace(config, max_steps=20), progress=lambda s: None)


def test_latency_is_removed_and_recorded(drive_capture: Capture) -> None:
    """A device 120 samples late trains exactly as the same device without latency."""
    pair = drive_capture.pair
    late = Capture(replace(pair, target=np.concatenate([np.zeros(120, np.float32), pair.target])))
    config = TrainConfig(max_steps=20, patience=100, **EXACT)
    lines: list[str] = []
    result = train([late], config, progress=lines.append)
    plain = train([drive_capture], config, progress=lambda s: None)
    assert result.validation_esr == plain.validation_esr
    assert [a.latency for a in result.alignments] == [120]
    assert result.metadata("t", config)["alignment"][0]["latency_samples"] == 120
    assert any("latency 120 samples (2.50 ms)" in line and "(removed)" in line for line in lines)
