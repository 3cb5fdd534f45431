"""Parity: each DSP block's C++ twin equals its torch forward pass, on sweeps, noise and plucks,
at every block size, after reset, and with knob-bound parameters moving between blocks.

Tolerance 1e-4 is the project contract. Both sides compute coefficients and filter state in
float64 and round to float32 once at the output, so the expected error is one float32
rounding (~6e-8 at full scale); the tests keep the 1e-4 contract as the bar and
docs/DSP.md lists the errors actually observed."""

from __future__ import annotations

import json
from typing import Any, Callable

import numpy as np
import pytest
import torch

from neuralfx.dsp import Biquad, Compressor, Gain, NoiseGate, ParametricEQ, Waveshaper
from neuralfx.dsp.biquad import MODES
from neuralfx.knobs import Knob
from neuralfx.model import Model

from conftest import RATE, SIGNALS
from conftest import BLOCK_SIZES, TOLERANCE, effect_for, kernel_blocks

PARITY_SIGNALS = ["sweep", "noise", "plucks"]
SECONDS = 0.15


def fixed_cases() -> dict[str, Callable[[], Model]]:
    """Blocks with every parameter a weight (no knobs), at settings that change the sound."""
    cases: dict[str, Callable[[], Model]] = {
        "gain": lambda: Model([Gain(gain_db=-7.3)], RATE),
        "eq": lambda: Model(
            [
                ParametricEQ(
                    [
                        {"mode": "lowshelf", "frequency": 120.0, "gain_db": 5.0, "q": 0.7},
                        {"mode": "peak", "frequency": 900.0, "gain_db": -6.0, "q": 1.5},
                        {"mode": "notch", "frequency": 2500.0, "q": 3.0},
                        {"mode": "highshelf", "frequency": 8000.0, "gain_db": -4.0, "q": 0.9},
                    ],
                    sample_rate=RATE,
                )
            ],
            RATE,
        ),
    }
    settings = {
        "lowpass": (1500.0, 0.0, 2.0),
        "highpass": (300.0, 0.0, 0.8),
        "bandpass": (1000.0, 0.0, 4.0),
        "notch": (60.0, 0.0, 1.0),
        "peak": (2000.0, 9.0, 3.0),
        "lowshelf": (200.0, -8.0, 0.7),
        "highshelf": (5000.0, 6.0, 0.7),
        "lowpass1": (3000.0, 0.0, 0.7),
        "highpass1": (40.0, 0.0, 0.7),
    }
    for mode in MODES:
        f, g, q = settings[mode]
        cases[f"biquad-{mode}"] = lambda mode=mode, f=f, g=g, q=q: Model(
            [Biquad(mode, RATE, frequency=f, gain_db=g, q=q)], RATE
        )
    for curve in ("tanh", "arctan", "softclip", "hardclip"):
        cases[f"waveshaper-{curve}"] = lambda curve=curve: Model(
            [
                Waveshaper(
                    curve,
                    RATE,
                    drive_db=18.0,
                    bias=0.2,
                    pre={"mode": "highpass", "frequency": 80.0, "q": 0.7},
                    post={"mode": "lowpass", "frequency": 6000.0, "q": 0.7},
                )
            ],
            RATE,
        )
    # Dynamics: thresholds low enough that sweeps (-3 dB peak), noise and plucks all cross them;
    # the soft knee, the hard knee and both detectors.
    cases["compressor-peak"] = lambda: Model(
        [Compressor("peak", RATE, threshold_db=-20.0, ratio=4.0, knee_db=6.0, attack_ms=2.0, release_ms=60.0, makeup_db=6.0)],
        RATE,
    )
    cases["compressor-rms-hard-knee"] = lambda: Model(
        [Compressor("rms", RATE, threshold_db=-30.0, ratio=10.0, knee_db=0.0, attack_ms=0.5, release_ms=20.0, rms_ms=3.3,
                    rms_attack_ms=0.7)],
        RATE,
    )
    cases["compressor-level-smoothing"] = lambda: Model(
        [Compressor("peak", RATE, threshold_db=-24.0, ratio=6.0, knee_db=4.0, attack_ms=0.3, release_ms=40.0, makeup_db=3.0,
                    smoothing="level")],
        RATE,
    )
    cases["noisegate-rms-level-smoothing"] = lambda: Model(
        [NoiseGate("rms", RATE, threshold_db=-20.0, ratio=6.0, range_db=-50.0, attack_ms=0.5, release_ms=20.0, smoothing="level",
                   rms_ms=8.0, rms_attack_ms=0.0)],
        RATE,
    )
    cases["noisegate-rms"] = lambda: Model(
        [NoiseGate("rms", RATE, threshold_db=-12.0, ratio=4.0, range_db=-60.0, attack_ms=0.5, release_ms=30.0)], RATE
    )
    cases["noisegate-peak"] = lambda: Model(
        [NoiseGate("peak", RATE, threshold_db=-15.0, ratio=20.0, range_db=-40.0, attack_ms=0.1, release_ms=5.0)], RATE
    )
    return cases


FIXED = fixed_cases()


@pytest.mark.parametrize("case", sorted(FIXED))
@pytest.mark.parametrize("signal", PARITY_SIGNALS)
def test_fixed_block_matches_torch_at_every_block_size(case: str, signal: str) -> None:
    model = FIXED[case]().eval()
    x = SIGNALS[signal](seconds=SECONDS)
    with torch.no_grad():
        reference = model(torch.from_numpy(x)[None])[0][0].numpy()
    assert np.all(np.isfinite(reference))
    assert np.max(np.abs(reference - x)) > 1e-2, "the block must change the signal for the test to mean anything"
    effect = effect_for(model)
    for block in BLOCK_SIZES:
        y = kernel_blocks(effect, x, block)
        assert np.max(np.abs(y - reference)) <= TOLERANCE, f"block {block}"
        effect._model.reset()  # again after reset(): no state leaks between signals
        y_again = effect._model.process(x[None])[0]
        assert np.max(np.abs(y_again - reference)) <= TOLERANCE, f"after reset, block {block}"


def test_torch_state_continues_across_chunks() -> None:
    """The torch forward returns state; feeding chunks with it equals one long call (so
    training on chunked audio and the kernel's streaming agree)."""
    model = FIXED["eq"]().eval()
    ws = FIXED["waveshaper-tanh"]().eval()
    dynamics = [FIXED[c]().eval() for c in ("compressor-rms-hard-knee", "noisegate-rms", "compressor-level-smoothing",
                                          "noisegate-rms-level-smoothing")]
    x = torch.from_numpy(SIGNALS["plucks"](seconds=SECONDS))[None]
    for m in (model, ws, *dynamics):
        with torch.no_grad():
            whole = m(x)[0]
            first, state = m(x[:, :1000])
            second, _ = m(x[:, 1000:], None, state)
        assert torch.max(torch.abs(torch.cat([first, second], 1) - whole)) <= 1e-6


def test_a_dynamics_file_without_smoothing_reads_as_gain_smoothing() -> None:
    """Files written before blocks had `smoothing` and `rms_attack_ms`: both readers run the gain
    smoothing and the plain RMS average those files were trained with."""
    import neuralfx
    from neuralfx.modelfile import from_json

    x = SIGNALS["plucks"](seconds=SECONDS)
    outputs = {}
    for smoothing, rms_attack_ms in (("gain", None), ("level", 0.0)):
        block = Compressor("rms", RATE, threshold_db=-30.0, ratio=8.0, knee_db=0.0, attack_ms=1.0, release_ms=50.0,
                           rms_ms=5.0, smoothing=smoothing, rms_attack_ms=rms_attack_ms)
        with torch.no_grad():
            outputs[smoothing] = Model([block], RATE)(torch.from_numpy(x)[None])[0][0].numpy()
    assert np.max(np.abs(outputs["gain"] - outputs["level"])) > 1e-2  # the settings sound different
    doc = json.loads(Model([Compressor("rms", RATE, threshold_db=-30.0, ratio=8.0, knee_db=0.0, attack_ms=1.0,
                                       release_ms=50.0, rms_ms=5.0, smoothing="level", rms_attack_ms=0.0)],
                           RATE).to_modelfile().to_json())
    del doc["blocks"][0]["config"]["smoothing"]
    del doc["blocks"][0]["config"]["rms_attack_ms"]
    old_file = json.dumps(doc)
    with torch.no_grad():
        torch_out = Model.from_modelfile(from_json(old_file)).eval()(torch.from_numpy(x)[None])[0][0].numpy()
    assert np.max(np.abs(torch_out - outputs["gain"])) <= 1e-6
    assert np.max(np.abs(neuralfx.NeuralEffect.from_json(old_file)(x, RATE) - outputs["gain"])) <= TOLERANCE


# ---- knob-bound parameters: the same binding mechanism for every block ----
def knob_cases() -> dict[str, tuple[Callable[[], Model], list[tuple[float, dict[str, float]]]]]:
    """Each case: a model whose block parameters are bound to knobs declared with the
    parameters' ranges, and knob moves as (fraction of the signal, settings)."""
    f_max = 0.49 * RATE
    return {
        "gain": (
            lambda: Model([Gain(knobs={"gain_db": "volume"})], RATE, [Knob("volume", -60.0, 24.0, 0.0, "dB")]),
            [(0.0, {"volume": -12.0}), (0.3, {"volume": 6.0}), (0.7, {"volume": -40.0})],
        ),
        "biquad-peak": (
            lambda: Model(
                [Biquad("peak", RATE, q=2.0, knobs={"frequency": "freq", "gain_db": "boost"})],
                RATE,
                [Knob("freq", 20.0, f_max, 1000.0, "Hz"), Knob("boost", -24.0, 24.0, 0.0, "dB")],
            ),
            [(0.0, {"boost": 12.0}), (0.25, {"freq": 300.0}), (0.5, {"freq": 5000.0, "boost": -10.0}), (0.8, {"freq": 40.0})],
        ),
        "biquad-lowpass-q": (
            lambda: Model(
                [Biquad("lowpass", RATE, frequency=2000.0, knobs={"q": "resonance", "frequency": "cutoff"})],
                RATE,
                [Knob("resonance", 0.1, 20.0, 0.7), Knob("cutoff", 20.0, f_max, 2000.0, "Hz")],
            ),
            [(0.0, {"resonance": 8.0}), (0.4, {"cutoff": 400.0}), (0.6, {"resonance": 0.3, "cutoff": 12000.0})],
        ),
        "eq": (
            lambda: Model(
                [
                    ParametricEQ(
                        [
                            {"mode": "lowshelf", "frequency": 150.0, "knobs": {"gain_db": "bass"}},
                            {"mode": "peak", "frequency": 1200.0, "q": 1.2, "knobs": {"gain_db": "mid"}},
                            {"mode": "highshelf", "frequency": 6000.0, "knobs": {"gain_db": "treble"}},
                        ],
                        sample_rate=RATE,
                    )
                ],
                RATE,
                [Knob(n, -24.0, 24.0, 0.0, "dB") for n in ("bass", "mid", "treble")],
            ),
            [(0.0, {"bass": 9.0, "treble": -6.0}), (0.35, {"mid": -12.0}), (0.7, {"bass": -9.0, "treble": 12.0})],
        ),
        "waveshaper": (
            lambda: Model(
                [
                    Waveshaper(
                        "tanh",
                        RATE,
                        knobs={"drive_db": "drive", "bias": "asym"},
                        post={"mode": "lowpass", "frequency": 5000.0, "knobs": {"frequency": "tone"}},
                    )
                ],
                RATE,
                [
                    Knob("drive", -24.0, 48.0, 0.0, "dB"),
                    Knob("asym", -1.0, 1.0, 0.0),
                    Knob("tone", 20.0, f_max, 5000.0, "Hz"),
                ],
            ),
            [(0.0, {"drive": 24.0}), (0.3, {"asym": 0.4, "tone": 1500.0}), (0.6, {"drive": 40.0, "tone": 9000.0})],
        ),
        # Every compressor parameter bound, so the kernel's per-sample coefficient updates
        # (attack/release exp, make-up pow) are exercised while the knobs glide.
        "compressor": (
            lambda: Model(
                [
                    Compressor(
                        "rms",
                        RATE,
                        knobs={"threshold_db": "thr", "ratio": "ratio", "knee_db": "knee", "attack_ms": "attack",
                               "release_ms": "release", "makeup_db": "makeup"},
                    )
                ],
                RATE,
                [
                    Knob("thr", -80.0, 0.0, -30.0, "dB"),
                    Knob("ratio", 1.0, 20.0, 4.0),
                    Knob("knee", 0.0, 24.0, 6.0, "dB"),
                    Knob("attack", 0.1, 500.0, 5.0, "ms"),
                    Knob("release", 1.0, 5000.0, 50.0, "ms"),
                    Knob("makeup", -24.0, 24.0, 0.0, "dB"),
                ],
            ),
            [
                (0.0, {"thr": -24.0, "makeup": 6.0}),
                (0.3, {"ratio": 12.0, "attack": 0.5, "knee": 0.0}),
                (0.6, {"thr": -40.0, "release": 400.0, "makeup": -3.0}),
            ],
        ),
        "noisegate": (
            lambda: Model(
                [
                    NoiseGate(
                        "peak",
                        RATE,
                        smoothing="level",  # the compressor above covers "gain" with knobs
                        knobs={"threshold_db": "thr", "ratio": "ratio", "range_db": "depth", "attack_ms": "attack",
                               "release_ms": "release"},
                    )
                ],
                RATE,
                [
                    Knob("thr", -100.0, 0.0, -20.0, "dB"),
                    Knob("ratio", 1.0, 50.0, 10.0),
                    Knob("depth", -100.0, 0.0, -40.0, "dB"),
                    Knob("attack", 0.1, 500.0, 1.0, "ms"),
                    Knob("release", 1.0, 5000.0, 20.0, "ms"),
                ],
            ),
            [(0.0, {"thr": -12.0}), (0.3, {"depth": -80.0, "release": 3.0}), (0.6, {"ratio": 2.0, "attack": 20.0, "thr": -6.0})],
        ),
    }


KNOB_CASES = knob_cases()


def moves_for(samples: int, block: int, moves: list[tuple[float, dict[str, float]]]) -> list[dict[str, Any]]:
    blocks = -(-samples // block)
    out: list[dict[str, Any]] = [{} for _ in range(blocks)]
    for fraction, settings in moves:
        out[int(fraction * blocks)].update(settings)
    return out


@pytest.mark.parametrize("case", sorted(KNOB_CASES))
def test_knob_bound_parameters_match_torch_with_knob_moves(case: str) -> None:
    make, moves = KNOB_CASES[case]
    model = make().eval()
    assert model.blocks[0].conditioning, "the case must bind knobs"
    for signal in PARITY_SIGNALS:
        x = SIGNALS[signal](seconds=SECONDS)
        for block in BLOCK_SIZES:
            knob_moves = moves_for(len(x), block, moves)
            reference = model.process_blocks(x, block, knob_moves)
            assert np.all(np.isfinite(reference))
            y = kernel_blocks(effect_for(model), x, block, knob_moves)
            assert np.max(np.abs(y - reference)) <= TOLERANCE, f"{signal}, block {block}"
    # The knobs really drive the parameters: moving them changes the output.
    still = model.process_blocks(x, 512, None)
    moved = model.process_blocks(x, 512, moves_for(len(x), 512, moves))
    assert np.max(np.abs(still - moved)) > 1e-2


def test_bound_parameter_equals_weight_at_the_same_value() -> None:
    """A knob-bound parameter held at value v gives the same sound as the weight v (the binding
    maps the knob's 0..1 onto the parameter range, and the knob is declared with that range)."""
    x = SIGNALS["noise"](seconds=SECONDS)
    bound = Model([Biquad("peak", RATE, q=2.0, knobs={"gain_db": "boost"})], RATE, [Knob("boost", -24.0, 24.0, 6.0, "dB")])
    fixed = Model([Biquad("peak", RATE, q=2.0, gain_db=6.0)], RATE)
    for model in (bound, fixed):
        model.eval()
    a = bound.process_blocks(x, 512, None)
    b = fixed.process_blocks(x, 512, None)
    assert np.max(np.abs(a - b)) <= 1e-6
    assert np.max(np.abs(kernel_blocks(effect_for(bound), x, 512) - b)) <= TOLERANCE


# ---- Delay and DryWet (a container: inner blocks of any type, DSP or neural) ----
# These reuse the tests above through their case tables, extended for the duration of a test.
from neuralfx.dsp import Delay, DryWet  # noqa: E402

from conftest import random_lstm_model  # noqa: E402


def delay_drywet_fixed_cases() -> dict[str, Callable[[], Model]]:
    return {
        # 2.71 ms = 130.08 samples: the interpolation weight matters; several repeats in 0.15 s.
        "delay-fractional": lambda: Model([Delay(RATE, 100.0, delay_ms=2.71, feedback=0.6, mix=0.5)], RATE),
        # The shortest delay (48 samples, the shortest torch chunk) at the largest feedback.
        "delay-shortest": lambda: Model([Delay(RATE, 2000.0, delay_ms=1.0, feedback=0.99, mix=1.0)], RATE),
        "delay-long": lambda: Model([Delay(RATE, 2000.0, delay_ms=45.0, feedback=0.9, mix=0.7)], RATE),
        "drywet-waveshaper": lambda: Model([DryWet([Waveshaper("tanh", RATE, drive_db=24.0)], mix=0.35)], RATE),
        "drywet-lstm": lambda: Model([DryWet([random_lstm_model(hidden=8).blocks[0]], mix=0.6)], RATE),
        "drywet-nested": lambda: Model(
            [
                DryWet(
                    [
                        Delay(RATE, 20.0, delay_ms=7.77, feedback=0.5, mix=0.8),
                        DryWet([Biquad("lowpass", RATE, frequency=900.0), Gain(gain_db=6.0)], mix=0.7),
                    ],
                    mix=0.4,
                )
            ],
            RATE,
        ),
    }


def delay_drywet_knob_cases() -> dict[str, tuple[Callable[[], Model], list[tuple[float, dict[str, float]]]]]:
    lstm = random_lstm_model(hidden=8, knobs=True, seed=3)  # knobs gain [0, 10], tone [-1, 1]
    return {
        # The delay time moves (smoothed per sample) across integer and fractional values and
        # down to the 1 ms minimum, where the torch chunks shrink to 48 samples.
        "delay": (
            lambda: Model(
                [Delay(RATE, 100.0, knobs={"delay_ms": "time", "feedback": "repeats", "mix": "blend"})],
                RATE,
                [Knob("time", 1.0, 100.0, 20.0, "ms"), Knob("repeats", 0.0, 0.99, 0.5), Knob("blend", 0.0, 1.0, 0.5)],
            ),
            [(0.0, {"time": 3.3}), (0.3, {"time": 57.1, "repeats": 0.9}), (0.6, {"time": 1.0, "blend": 0.9})],
        ),
        "drywet-biquad": (
            lambda: Model(
                [DryWet([Biquad("peak", RATE, gain_db=12.0, q=2.0, knobs={"frequency": "freq"})], knobs={"mix": "wet"})],
                RATE,
                [Knob("wet", 0.0, 1.0, 0.5), Knob("freq", 20.0, 0.49 * RATE, 1000.0, "Hz")],
            ),
            [(0.0, {"wet": 1.0}), (0.3, {"freq": 300.0}), (0.6, {"wet": 0.2, "freq": 4000.0})],
        ),
        "drywet-lstm": (
            lambda: Model(
                [DryWet([random_lstm_model(hidden=8, knobs=True, seed=3).blocks[0]], knobs={"mix": "wet"})],
                RATE,
                [Knob("wet", 0.0, 1.0, 0.5), *lstm.knobs],
            ),
            [(0.0, {"wet": 0.9, "gain": 8.0}), (0.4, {"tone": -0.7}), (0.7, {"wet": 0.1, "gain": 2.0})],
        ),
    }


DELAY_DRYWET_FIXED = delay_drywet_fixed_cases()
DELAY_DRYWET_KNOBS = delay_drywet_knob_cases()


@pytest.mark.parametrize("case", sorted(DELAY_DRYWET_FIXED))
@pytest.mark.parametrize("signal", PARITY_SIGNALS)
def test_delay_and_drywet_match_torch_at_every_block_size(case: str, signal: str, monkeypatch) -> None:
    monkeypatch.setitem(FIXED, case, DELAY_DRYWET_FIXED[case])
    test_fixed_block_matches_torch_at_every_block_size(case, signal)


@pytest.mark.parametrize("case", sorted(DELAY_DRYWET_KNOBS))
def test_delay_and_drywet_match_torch_with_knob_moves(case: str, monkeypatch) -> None:
    monkeypatch.setitem(KNOB_CASES, case, DELAY_DRYWET_KNOBS[case])
    test_knob_bound_parameters_match_torch_with_knob_moves(case)


@pytest.mark.parametrize("case", ["delay-fractional", "drywet-lstm", "drywet-nested"])
def test_delay_and_drywet_torch_state_continues_across_chunks(case: str) -> None:
    """Chunks fed with the returned state equal one long call, including chunks shorter than
    the delay (the line's history carries over)."""
    model = DELAY_DRYWET_FIXED[case]().eval()
    x = torch.from_numpy(SIGNALS["plucks"](seconds=SECONDS))[None]
    with torch.no_grad():
        whole = model(x)[0]
        pieces, state = [], None
        for start, end in ((0, 50), (50, 1000), (1000, x.shape[1])):
            y, state = model(x[:, start:end], None, state)
            pieces.append(y)
    assert torch.max(torch.abs(torch.cat(pieces, 1) - whole)) <= 1e-6


def test_an_effect_says_how_long_its_echoes_sound() -> None:
    """tail_seconds (what the plugin tells a host): a Delay's echoes until they fall 60 dB, at the
    longest time and strongest feedback its knobs allow; 0 for a model without one."""
    import neuralfx

    echoes = effect_for(Model([Delay(RATE, 100.0, delay_ms=10.0, feedback=0.5, mix=1.0)], RATE))
    assert echoes.tail_seconds == pytest.approx(0.1)  # 0.5^9 > 1e-3 > 0.5^10: ten echoes of 10 ms
    impulse = np.zeros(RATE // 5, np.float32)
    impulse[0] = 1.0
    y = echoes(impulse, RATE)
    tail = int(round(echoes.tail_seconds * RATE))
    assert np.max(np.abs(y[tail - RATE // 100 + 1:tail + 1])) > 1e-3 > np.max(np.abs(y[tail + 1:]))
    knobs = [Knob("time", 1.0, 100.0, 20.0, "ms"), Knob("repeats", 0.0, 0.99, 0.0)]
    bound = Model([DryWet([Delay(RATE, 100.0, knobs={"delay_ms": "time", "feedback": "repeats"})], mix=0.5)], RATE,
                  knobs=knobs)
    assert effect_for(bound).tail_seconds == pytest.approx(688 * 0.1)  # 0.99^687 > 1e-3 > 0.99^688, at 100 ms
    assert neuralfx.load("crunch_amp").tail_seconds == 0.0
    # At a fixed mix of 0 the output is the dry input: no echoes.
    assert effect_for(Model([Delay(RATE, 100.0, delay_ms=10.0, feedback=0.5, mix=0.0)], RATE)).tail_seconds == 0.0
    dry = Model([DryWet([Delay(RATE, 100.0, delay_ms=10.0, feedback=0.5, mix=1.0)], mix=0.0)], RATE)
    assert effect_for(dry).tail_seconds == 0.0
