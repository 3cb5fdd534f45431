"""Reference comparisons for the DSP blocks.

1. RBJ biquads vs the cookbook formulas written again here, independently of
   neuralfx/dsp/biquad.py, evaluated with scipy.signal.freqz. The blocks' responses are
   measured from impulse responses (torch and C++ kernel), not read from their coefficients.
2. Gain vs pedalboard.Gain; peak/shelf filters vs Pedalboard's PeakFilter / LowShelfFilter /
   HighShelfFilter (JUCE's RBJ-based IIR coefficients, computed and run in float32).
3. Lowpass/highpass vs pedalboard.LowpassFilter / HighpassFilter, which are *first-order*
   (6 dB/octave, JUCE makeFirstOrderLowPass/HighPass), whereas ours are the cookbook's
   second-order filters. Both come from the bilinear transform prewarped at the cutoff, so
   with W = tan(pi f / fs) / tan(pi fc / fs): first order |H|^-2 - 1 = W^2, Butterworth
   second order (q = 1/sqrt 2) |H|^-2 - 1 = W^4. The test checks that relation between the
   two measured responses; docs/DSP.md records the measured difference in dB.
"""

from __future__ import annotations

import math

import numpy as np
import pedalboard
import pytest
import torch
from scipy.signal import freqz

import neuralfx
from neuralfx.dsp import Biquad, Gain
from neuralfx.dsp.biquad import MODES as BIQUAD_MODES
from neuralfx.model import Model

from conftest import RATE, SIGNALS

N = 1 << 16  # impulse-response length: every tested filter has decayed below 1e-12 by then
FREQS = np.fft.rfftfreq(N, 1.0 / RATE)
BAND = (FREQS >= 20.0) & (FREQS <= 20000.0)


def cookbook(mode: str, fs: float, f0: float, gain_db: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    """(b, a) straight from the RBJ Audio EQ Cookbook, written independently of the package."""
    A = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * f0 / fs
    c, s = math.cos(w0), math.sin(w0)
    alpha = s / (2 * q)
    if mode == "lowpass":
        b, a = [(1 - c) / 2, 1 - c, (1 - c) / 2], [1 + alpha, -2 * c, 1 - alpha]
    elif mode == "highpass":
        b, a = [(1 + c) / 2, -(1 + c), (1 + c) / 2], [1 + alpha, -2 * c, 1 - alpha]
    elif mode == "bandpass":
        b, a = [alpha, 0, -alpha], [1 + alpha, -2 * c, 1 - alpha]
    elif mode == "notch":
        b, a = [1, -2 * c, 1], [1 + alpha, -2 * c, 1 - alpha]
    elif mode == "peak":
        b, a = [1 + alpha * A, -2 * c, 1 - alpha * A], [1 + alpha / A, -2 * c, 1 - alpha / A]
    elif mode == "lowshelf":
        r = 2 * math.sqrt(A) * alpha
        b = [A * ((A + 1) - (A - 1) * c + r), 2 * A * ((A - 1) - (A + 1) * c), A * ((A + 1) - (A - 1) * c - r)]
        a = [(A + 1) + (A - 1) * c + r, -2 * ((A - 1) + (A + 1) * c), (A + 1) + (A - 1) * c - r]
    elif mode == "highshelf":
        r = 2 * math.sqrt(A) * alpha
        b = [A * ((A + 1) + (A - 1) * c + r), -2 * A * ((A - 1) + (A + 1) * c), A * ((A + 1) + (A - 1) * c - r)]
        a = [(A + 1) - (A - 1) * c + r, 2 * ((A - 1) - (A + 1) * c), (A + 1) - (A - 1) * c - r]
    else:
        raise ValueError(mode)
    return np.array(b), np.array(a)


def impulse() -> np.ndarray:
    x = np.zeros(N, np.float32)
    x[0] = 1.0
    return x


def db(h: np.ndarray) -> np.ndarray:
    return 20 * np.log10(np.maximum(np.abs(h), 1e-12))


def torch_response(model: Model) -> np.ndarray:
    with torch.no_grad():
        ir = model(torch.from_numpy(impulse())[None])[0][0].numpy()
    return np.fft.rfft(ir.astype(np.float64))


def kernel_response(model: Model) -> np.ndarray:
    effect = neuralfx.NeuralEffect.from_json(model.to_modelfile().to_json())
    return np.fft.rfft(effect(impulse(), RATE).astype(np.float64))


def pedalboard_response(plugin: pedalboard.Plugin) -> np.ndarray:
    return np.fft.rfft(plugin(impulse(), RATE).astype(np.float64))


# Peak and shelf settings across the range, including the extremes of gain and q.
RBJ_CASES = [
    ("peak", 1000.0, 12.0, 1.0),
    ("peak", 100.0, -18.0, 4.0),
    ("peak", 8000.0, 24.0, 0.3),
    ("peak", 30.0, -24.0, 0.7),
    ("lowshelf", 200.0, 9.0, 0.7071),
    ("lowshelf", 60.0, -24.0, 0.5),
    ("highshelf", 4000.0, -9.0, 0.7071),
    ("highshelf", 12000.0, 24.0, 1.0),
    ("lowpass", 1000.0, 0.0, 0.7071),
    ("highpass", 250.0, 0.0, 2.0),
    ("bandpass", 2000.0, 0.0, 5.0),
    ("notch", 440.0, 0.0, 2.0),
]


@pytest.mark.parametrize("mode,f0,gain_db,q", RBJ_CASES)
def test_biquad_magnitude_matches_cookbook_freqz(mode: str, f0: float, gain_db: float, q: float) -> None:
    b, a = cookbook(mode, RATE, f0, gain_db, q)
    _, expected = freqz(b, a, worN=FREQS[BAND], fs=RATE)
    model = Model([Biquad(mode, RATE, frequency=f0, gain_db=gain_db, q=q)], RATE)
    # The only error sources are float32 parameters (f0, q, gain as float32 weights) and one
    # float32 rounding per output sample of the impulse response: ~1e-4 dB where |H| is
    # well above the rounding floor. Notch/bandpass bins far down the skirt (< -60 dB) sit
    # near that floor, so they are compared in linear magnitude instead.
    for name, got in (("torch", torch_response(model)), ("kernel", kernel_response(model))):
        got = got[BAND]
        loud = np.abs(expected) > 1e-3
        assert np.max(np.abs(db(got[loud]) - db(expected[loud]))) < 1e-3, name
        assert np.max(np.abs(np.abs(got) - np.abs(expected))) < 1e-5, name


@pytest.mark.parametrize("mode,gain_db", [("peak", 12.0), ("peak", -18.0), ("lowshelf", 9.0), ("highshelf", -9.0)])
def test_cookbook_defining_points(mode: str, gain_db: float) -> None:
    """The cookbook's definitions: a peak has gain_db at f0; a low shelf has gain_db at DC and
    0 dB at Nyquist, a high shelf the reverse; at f0 the shelves sit at gain_db / 2."""
    f0 = 1000.0
    model = Model([Biquad(mode, RATE, frequency=f0, gain_db=gain_db, q=0.7071)], RATE)
    h = torch_response(model)
    at = lambda f: float(db(h[int(round(f * N / RATE))]))  # noqa: E731  (bin of frequency f)
    if mode == "peak":
        # f0 = 1000 Hz is not a bin centre; the response is flat to ~1e-3 dB within half a bin.
        assert abs(at(f0) - gain_db) < 0.01
    else:
        low, high = (gain_db, 0.0) if mode == "lowshelf" else (0.0, gain_db)
        assert abs(at(0.0) - low) < 1e-3 and abs(at(RATE / 2) - high) < 1e-3
        assert abs(at(f0) - gain_db / 2) < 0.01


@pytest.mark.parametrize("gain_db", [-24.0, -6.0, 0.0, 3.5, 12.0])
def test_gain_matches_pedalboard_gain(gain_db: float) -> None:
    x = SIGNALS["noise"](seconds=0.2)
    ours = neuralfx.NeuralEffect.from_json(Model([Gain(gain_db=gain_db)], RATE).to_modelfile().to_json())(x, RATE)
    theirs = pedalboard.Gain(gain_db=gain_db)(x, RATE)
    # Both multiply by 10^(dB/20) rounded to float32; Pedalboard (JUCE) computes the factor in
    # float, we in double, so they can differ by one float32 ulp of the factor (~1.2e-7 relative).
    peak = np.max(np.abs(x)) * 10 ** (gain_db / 20)
    assert np.max(np.abs(ours - theirs)) <= 2.5e-7 * peak


PEDALBOARD_EQ = [
    ("peak", pedalboard.PeakFilter, 1000.0, 12.0, 1.0),
    ("peak", pedalboard.PeakFilter, 150.0, -9.0, 3.0),
    ("lowshelf", pedalboard.LowShelfFilter, 200.0, 6.0, 0.7071),
    ("highshelf", pedalboard.HighShelfFilter, 5000.0, -6.0, 0.7071),
]


@pytest.mark.parametrize("mode,cls,f0,gain_db,q", PEDALBOARD_EQ)
def test_peak_and_shelves_match_pedalboard(mode: str, cls: type, f0: float, gain_db: float, q: float) -> None:
    model = Model([Biquad(mode, RATE, frequency=f0, gain_db=gain_db, q=q)], RATE)
    ours = kernel_response(model)[BAND]
    theirs = pedalboard_response(cls(cutoff_frequency_hz=f0, gain_db=gain_db, q=q))[BAND]
    # Same RBJ formulas; JUCE computes the coefficients and runs the filter in float32, which
    # moves the response by a few thousandths of a dB (more at low f0, where the poles crowd
    # the unit circle). 0.05 dB is far below audibility and far above our own error.
    assert np.max(np.abs(db(ours) - db(theirs))) < 0.05


@pytest.mark.parametrize("mode,cls,fc", [("lowpass", pedalboard.LowpassFilter, 1000.0), ("highpass", pedalboard.HighpassFilter, 500.0)])
def test_lowpass_highpass_against_pedalboards_first_order_filters(mode: str, cls: type, fc: float) -> None:
    ours = np.abs(kernel_response(Model([Biquad(mode, RATE, frequency=fc, q=1 / math.sqrt(2))], RATE)))
    theirs = np.abs(pedalboard_response(cls(cutoff_frequency_hz=fc)))
    k = int(round(fc * N / RATE))
    # Both are -3.01 dB at the cutoff (bin k is within 0.4 Hz of fc).
    assert abs(db(ours[k]) - db(theirs[k])) < 0.05 and abs(db(ours[k]) + 3.0103) < 0.05
    # Second-order Butterworth = first order "squared" in the bilinear-warped variable:
    # (|H2|^-2 - 1) = (|H1|^-2 - 1)^2, checked over 1/8 .. 8 x fc where both are well resolved.
    sel = (FREQS >= fc / 8) & (FREQS <= fc * 8)
    lhs = ours[sel] ** -2.0 - 1.0
    rhs = (theirs[sel] ** -2.0 - 1.0) ** 2
    assert np.max(np.abs(np.log10(lhs / rhs))) < 0.01  # within 2.3 %: float32 filters on both sides
    # And the slopes really differ: two octaves and more past the cutoff, ours is lower by
    # >= 3 dB (up to fs/4: near Nyquist both lowpasses fall into the bilinear zero at fs/2).
    far = ((FREQS >= fc * 4) & (FREQS <= RATE / 4)) if mode == "lowpass" else ((FREQS <= fc / 4) & (FREQS >= 20))
    assert np.all(db(ours[far]) < db(theirs[far]) - 3.0)


@pytest.mark.parametrize("mode,cls,fc", [("lowpass1", pedalboard.LowpassFilter, 4500.0), ("lowpass1", pedalboard.LowpassFilter, 200.0),
                                        ("highpass1", pedalboard.HighpassFilter, 70.0), ("highpass1", pedalboard.HighpassFilter, 2000.0)])
def test_first_order_modes_match_pedalboards_lowpass_and_highpass(mode: str, cls: type, fc: float) -> None:
    ours = kernel_response(Model([Biquad(mode, RATE, frequency=fc)], RATE))[BAND]
    theirs = pedalboard_response(cls(cutoff_frequency_hz=fc))[BAND]
    # The same bilinear design; JUCE runs it in float32 (see the peak/shelf comparison).
    assert np.max(np.abs(db(ours) - db(theirs))) < 0.05


def steady_gain_db(x: np.ndarray, y: np.ndarray) -> float:
    """Gain over the last quarter second, once attack and release have settled."""
    n = RATE // 4
    return float(20 * np.log10(np.sqrt(np.mean(y[-n:].astype(np.float64) ** 2)) / np.sqrt(np.mean(x[-n:].astype(np.float64) ** 2))))


def kernel_output(block: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    return neuralfx.NeuralEffect.from_json(Model([block], RATE).to_modelfile().to_json())(x, RATE)


@pytest.mark.parametrize("level_db", [-40.0, -30.0, -20.0, -15.0, -10.0, -6.0, -3.0, 0.0])
def test_compressor_static_gain_matches_pedalboard(level_db: float) -> None:
    from neuralfx.dsp import Compressor

    x = SIGNALS["sine"](1000.0, 1.0, 10 ** (level_db / 20))
    theirs = steady_gain_db(x, pedalboard.Compressor(threshold_db=-20, ratio=4, attack_ms=1.0, release_ms=100.0)(x, RATE))
    ours = steady_gain_db(x, kernel_output(Compressor("peak", RATE, threshold_db=-20, ratio=4, knee_db=0,
                                                      attack_ms=1.0, release_ms=100.0), x))
    # Both: peak detector, hard knee, -20 dB threshold, 4:1. They differ in where the ballistics
    # act (JUCE smooths the detected level, the default "gain" smoothing the gain), which ripples
    # the steady gain; smoothing "level" is JUCE's structure (the next test).
    assert abs(ours - theirs) < 0.5, (ours, theirs)


PEDALBOARD_COMPRESSORS = [(-24.0, 4.0, 2.0, 100.0), (-36.0, 8.0, 2.0, 100.0), (-10.0, 2.0, 10.0, 300.0), (-50.0, 20.0, 1.0, 30.0)]


def _differences(block: torch.nn.Module, x: np.ndarray, theirs: np.ndarray) -> tuple[float, float, float]:
    """Max |ours - theirs| with ours run in torch and in the kernel, and max |theirs - x|."""
    with torch.no_grad():
        torch_out = Model([block], RATE)(torch.from_numpy(x)[None])[0][0].numpy()
    return (float(np.max(np.abs(torch_out - theirs))), float(np.max(np.abs(kernel_output(block, x) - theirs))),
            float(np.max(np.abs(theirs - x))))


def level_compressor_vs_pedalboard(threshold_db: float, ratio: float, attack_ms: float,
                                   release_ms: float) -> tuple[float, float, float]:
    """Max |ours - pedalboard.Compressor| in torch and in the kernel, and max |theirs - input| (how
    much theirs acts), over plucks, quiet and loud noise and a tail of silence. Ours: smoothing
    "level", peak detector, no knee, Pedalboard's times divided by 2 pi (JUCE's ballistics
    coefficient is exp(-2 pi 1000 / (T fs)))."""
    from neuralfx.dsp import Compressor

    x = np.concatenate([SIGNALS["plucks"](seconds=0.5), SIGNALS["noise"](seconds=0.25, level=0.02),
                        SIGNALS["noise"](seconds=0.25, level=0.8).clip(-1, 1), np.zeros(2400, np.float32)])
    theirs = pedalboard.Compressor(threshold_db=threshold_db, ratio=ratio, attack_ms=attack_ms, release_ms=release_ms)(x, RATE)
    block = Compressor("peak", RATE, threshold_db=threshold_db, ratio=ratio, knee_db=0.0, attack_ms=attack_ms / (2 * math.pi),
                       release_ms=release_ms / (2 * math.pi), makeup_db=0.0, smoothing="level")
    return _differences(block, x, theirs)


@pytest.mark.parametrize("threshold_db, ratio, attack_ms, release_ms", PEDALBOARD_COMPRESSORS)
def test_level_smoothing_compressor_is_pedalboards_compressor(threshold_db: float, ratio: float, attack_ms: float,
                                                              release_ms: float) -> None:
    torch_diff, kernel_diff, action = level_compressor_vs_pedalboard(threshold_db, ratio, attack_ms, release_ms)
    assert action > 0.05  # the compressor acts on this signal
    assert torch_diff <= 1e-5 and kernel_diff <= 1e-5


PEDALBOARD_GATES = [(-30.0, 4.0, 1.0, 100.0), (-20.0, 10.0, 5.0, 50.0), (-30.0, 2.0, 2.0, 300.0)]
# JUCE's NoiseGate runs its RMS stage with a 0 ms attack and a fixed 50 ms release.
PEDALBOARD_GATE_RMS_RELEASE_MS = 50.0


def level_gate_vs_pedalboard(threshold_db: float, ratio: float, attack_ms: float,
                             release_ms: float) -> tuple[float, float, float]:
    """As level_compressor_vs_pedalboard, for pedalboard.NoiseGate: ours with the RMS detector
    rising at once (rms_attack_ms 0), its release and the ballistics' times divided by 2 pi, and
    the deepest range (JUCE's gate has no floor; -100 dB is 1e-5 of the input)."""
    from neuralfx.dsp import NoiseGate

    x = np.concatenate([SIGNALS["plucks"](seconds=0.5), SIGNALS["noise"](seconds=0.25, level=0.005),
                        SIGNALS["noise"](seconds=0.25, level=0.5), np.zeros(2400, np.float32)])
    theirs = pedalboard.NoiseGate(threshold_db=threshold_db, ratio=ratio, attack_ms=attack_ms, release_ms=release_ms)(x, RATE)
    block = NoiseGate("rms", RATE, threshold_db=threshold_db, ratio=ratio, range_db=-100.0, attack_ms=attack_ms / (2 * math.pi),
                      release_ms=release_ms / (2 * math.pi), rms_ms=PEDALBOARD_GATE_RMS_RELEASE_MS / (2 * math.pi),
                      rms_attack_ms=0.0, smoothing="level")
    return _differences(block, x, theirs)


@pytest.mark.parametrize("threshold_db, ratio, attack_ms, release_ms", PEDALBOARD_GATES)
def test_level_smoothing_gate_is_pedalboards_noise_gate(threshold_db: float, ratio: float, attack_ms: float,
                                                        release_ms: float) -> None:
    torch_diff, kernel_diff, action = level_gate_vs_pedalboard(threshold_db, ratio, attack_ms, release_ms)
    assert action > 0.005  # the gate acts on this signal
    assert torch_diff <= 1e-5 and kernel_diff <= 1e-5


@pytest.mark.parametrize("level_db", [-50.0, -40.0, -35.0, -30.0, -25.0, -20.0, -10.0])
def test_noise_gate_static_gain_matches_pedalboard(level_db: float) -> None:
    from neuralfx.dsp import NoiseGate

    x = SIGNALS["sine"](1000.0, 1.0, 10 ** (level_db / 20))
    theirs = steady_gain_db(x, pedalboard.NoiseGate(threshold_db=-30, ratio=4, attack_ms=1.0, release_ms=100.0)(x, RATE))
    ours = steady_gain_db(x, kernel_output(NoiseGate("peak", RATE, threshold_db=-30, ratio=4, range_db=-100,
                                                     attack_ms=1.0, release_ms=100.0), x))
    assert abs(ours - theirs) < 1.0, (ours, theirs)


# ---- bad input ----
EXTREMES = [(mode, f, g, q) for mode in BIQUAD_MODES for f in (20.0, 0.49 * RATE) for g in (-24.0, 24.0) for q in (0.1, 20.0)]


def test_extreme_settings_stay_finite_in_torch_and_kernel() -> None:
    x = np.concatenate([SIGNALS["noise"](seconds=0.1, level=1.0), SIGNALS["sweep"](seconds=0.1, level=1.0)])
    for mode, f, g, q in EXTREMES:
        model = Model([Biquad(mode, RATE, frequency=f, gain_db=g, q=q)], RATE)
        with torch.no_grad():
            y = model(torch.from_numpy(x)[None])[0][0].numpy()
        k = neuralfx.NeuralEffect.from_json(model.to_modelfile().to_json())(x, RATE)
        assert np.all(np.isfinite(y)) and np.all(np.isfinite(k)), (mode, f, g, q)
        # A stable biquad's gain is bounded: nothing here may blow up (20 Hz, q 20, +24 dB peaks
        # near 16 x resonance gain; 1e3 is a generous bound that a diverging filter exceeds).
        assert np.max(np.abs(y)) < 1e3 and np.max(np.abs(k - y)) <= 1e-4 * max(1.0, np.max(np.abs(y))), (mode, f, g, q)


# ---- the numbers in docs/DSP.md: `cd tests && python3 test_dsp_reference.py` ----
def measure() -> None:
    import test_dsp_parity as parity
    from conftest import kernel_blocks

    print("parity, max |C++ - torch| over sweep/noise/plucks and block sizes 1, 7, 64, 512, 4096:")
    for name, make in sorted(parity.FIXED.items()):
        model, worst = make().eval(), 0.0
        effect = parity.effect_for(model)
        for signal in parity.PARITY_SIGNALS:
            x = SIGNALS[signal](seconds=parity.SECONDS)
            with torch.no_grad():
                ref = model(torch.from_numpy(x)[None])[0][0].numpy()
            for block in parity.BLOCK_SIZES:
                worst = max(worst, float(np.max(np.abs(kernel_blocks(effect, x, block) - ref))))
        print(f"  {name:22s} {worst:.2e}")
    for name, (make, moves) in sorted(parity.KNOB_CASES.items()):
        model, worst = make().eval(), 0.0
        for signal in parity.PARITY_SIGNALS:
            x = SIGNALS[signal](seconds=parity.SECONDS)
            for block in parity.BLOCK_SIZES:
                km = parity.moves_for(len(x), block, moves)
                ref = model.process_blocks(x, block, km)
                worst = max(worst, float(np.max(np.abs(kernel_blocks(parity.effect_for(model), x, block, km) - ref))))
        print(f"  knobs: {name:15s} {worst:.2e}")

    print("magnitude vs cookbook freqz (max |dB| where |H| > -60 dB; torch, kernel):")
    for mode, f0, g, q in RBJ_CASES:
        b, a = cookbook(mode, RATE, f0, g, q)
        _, expected = freqz(b, a, worN=FREQS[BAND], fs=RATE)
        model = Model([Biquad(mode, RATE, frequency=f0, gain_db=g, q=q)], RATE)
        loud = np.abs(expected) > 1e-3
        errs = [np.max(np.abs(db(r[BAND][loud]) - db(expected[loud]))) for r in (torch_response(model), kernel_response(model))]
        print(f"  {mode:9s} f0={f0:7.0f} gain={g:+5.1f} q={q:.2f}: {errs[0]:.1e} {errs[1]:.1e}")

    x = SIGNALS["noise"](seconds=0.2)
    for g in (-24.0, -6.0, 3.5, 12.0):
        ours = neuralfx.NeuralEffect.from_json(Model([Gain(gain_db=g)], RATE).to_modelfile().to_json())(x, RATE)
        rel = np.max(np.abs(ours - pedalboard.Gain(gain_db=g)(x, RATE))) / (np.max(np.abs(x)) * 10 ** (g / 20))
        print(f"  Gain {g:+5.1f} dB vs pedalboard.Gain: max diff / peak = {rel:.1e}")
    for mode, cls, f0, g, q in PEDALBOARD_EQ:
        ours = kernel_response(Model([Biquad(mode, RATE, frequency=f0, gain_db=g, q=q)], RATE))[BAND]
        theirs = pedalboard_response(cls(cutoff_frequency_hz=f0, gain_db=g, q=q))[BAND]
        print(f"  {mode} {f0:.0f} Hz {g:+.0f} dB q={q:.2f} vs pedalboard.{cls.__name__}: max {np.max(np.abs(db(ours) - db(theirs))):.1e} dB")
    for mode, cls, fc in (("lowpass", pedalboard.LowpassFilter, 1000.0), ("highpass", pedalboard.HighpassFilter, 500.0)):
        ours = kernel_response(Model([Biquad(mode, RATE, frequency=fc, q=1 / math.sqrt(2))], RATE))
        theirs = pedalboard_response(cls(cutoff_frequency_hz=fc))
        points = [fc / 4, fc / 2, fc, 2 * fc, 4 * fc, 8 * fc]
        text = ", ".join(f"{f:.0f} Hz {db(ours[int(round(f * N / RATE))]):+.2f}/{db(theirs[int(round(f * N / RATE))]):+.2f}" for f in points)
        print(f"  {mode} fc={fc:.0f} q=0.707 (ours/pedalboard.{cls.__name__}, dB): {text}")
    for mode, cls, fc in (("lowpass1", pedalboard.LowpassFilter, 4500.0), ("lowpass1", pedalboard.LowpassFilter, 200.0),
                          ("highpass1", pedalboard.HighpassFilter, 70.0), ("highpass1", pedalboard.HighpassFilter, 2000.0)):
        ours = kernel_response(Model([Biquad(mode, RATE, frequency=fc)], RATE))[BAND]
        theirs = pedalboard_response(cls(cutoff_frequency_hz=fc))[BAND]
        print(f"  {mode} fc={fc:.0f} vs pedalboard.{cls.__name__}: max {np.max(np.abs(db(ours) - db(theirs))):.1e} dB")
    for settings in PEDALBOARD_COMPRESSORS:
        torch_diff, kernel_diff, action = level_compressor_vs_pedalboard(*settings)
        print(f"  Compressor(smoothing=level) {settings} vs pedalboard.Compressor: max diff torch {torch_diff:.1e}, "
              f"kernel {kernel_diff:.1e} (theirs moves the signal by up to {action:.2f})")
    for settings in PEDALBOARD_GATES:
        torch_diff, kernel_diff, action = level_gate_vs_pedalboard(*settings)
        print(f"  NoiseGate(rms, rms_attack_ms=0, smoothing=level) {settings} vs pedalboard.NoiseGate: max diff torch "
              f"{torch_diff:.1e}, kernel {kernel_diff:.1e} (theirs moves the signal by up to {action:.3f})")



# ---- Delay vs pedalboard.Delay (delay_seconds, feedback, mix) ----
# Same structure (pedalboard/JUCE: d = line read, line <- x + feedback d, y = (1-mix) x + mix d),
# but Pedalboard's delay has whole-sample resolution: it truncates float32(delay_seconds) * fs
# (the product taken in double).
# Cases where that product is exact integers compare sample for sample; see docs/DSP.md.
PEDALBOARD_DELAYS = [(1.0, 0.0, 1.0), (7.0, 0.5, 0.5), (125.0, 0.99, 1.0), (250.0, 0.9, 0.7), (500.0, 0.3, 0.3)]


def delay_vs_pedalboard(x: np.ndarray, ms: float, feedback: float, mix: float) -> tuple[float, float]:
    from neuralfx.dsp import Delay

    ours = neuralfx.NeuralEffect.from_json(
        Model([Delay(RATE, 2000.0, delay_ms=ms, feedback=feedback, mix=mix)], RATE).to_modelfile().to_json()
    )(x, RATE)
    theirs = pedalboard.Delay(delay_seconds=ms / 1000.0, feedback=feedback, mix=mix)(x[None], RATE)[0]
    return float(np.max(np.abs(ours - theirs))), float(np.max(np.abs(ours)))


@pytest.mark.parametrize("ms,feedback,mix", PEDALBOARD_DELAYS)
@pytest.mark.parametrize("signal", ["plucks", "noise"])
def test_delay_matches_pedalboard_delay_at_integer_sample_delays(ms: float, feedback: float, mix: float, signal: str) -> None:
    diff, peak = delay_vs_pedalboard(SIGNALS[signal](seconds=1.0), ms, feedback, mix)
    # Pedalboard keeps its line in float32, ours in float64: a few float32 roundings of the peak.
    assert diff <= 1e-6 * max(1.0, peak)


def test_pedalboard_delay_truncates_to_whole_samples_where_ours_interpolates() -> None:
    """10 ms at 48 kHz is 480 samples; float32(0.01) * 48000 = 479.99998927 (in double), which
    Pedalboard truncates to 479. Ours computes (10 * 48000) / 1000 in double: exactly 480."""
    impulse = np.zeros(2000, np.float32)
    impulse[0] = 1.0
    theirs = pedalboard.Delay(delay_seconds=0.01, feedback=0.0, mix=1.0)(impulse[None], RATE)[0]
    from neuralfx.dsp import Delay

    model = Model([Delay(RATE, 2000.0, delay_ms=10.0, feedback=0.0, mix=1.0)], RATE)
    mine = neuralfx.NeuralEffect.from_json(model.to_modelfile().to_json())(impulse, RATE)
    assert int(np.argmax(theirs)) == int(float(np.float32(0.01)) * RATE) == 479
    assert int(np.argmax(mine)) == 480 and mine[480] == 1.0
    # A half-sample delay is the two-tap average in ours; Pedalboard rounds it down.
    model = Model([Delay(RATE, 2000.0, delay_ms=100.5 * 1000.0 / RATE, feedback=0.0, mix=1.0)], RATE)
    half = neuralfx.NeuralEffect.from_json(model.to_modelfile().to_json())(impulse, RATE)
    assert half[100] == 0.5 and half[101] == 0.5  # 2.09375 ms: exact in float32, D = 100.5


def measure_delay() -> None:
    for ms, feedback, mix in PEDALBOARD_DELAYS:
        for signal in ("plucks", "noise"):
            diff, peak = delay_vs_pedalboard(SIGNALS[signal](seconds=1.0), ms, feedback, mix)
            print(f"  Delay {ms:g} ms fb {feedback} mix {mix} on {signal} vs pedalboard.Delay: max {diff:.1e} (peak {peak:.2f})")


if __name__ == "__main__":
    measure()
    measure_delay()


@pytest.mark.parametrize("rate", [48000, 96000, 192000])
def test_a_delay_time_moved_by_its_knob_lands_on_the_setting(rate: int) -> None:
    """The knob smoother ran in float32 and stopped short of its target for good once its step
    fell below half a float step: 500 -> 1500 ms put the echo 1.37 samples early at 48 kHz (22 at
    192 kHz), between two samples, so every repeat went through the interpolation's low-pass."""
    from neuralfx.dsp import Delay
    from neuralfx.knobs import Knob, smooth

    knob = Knob("time", 1.0, 2000.0, 500.0, "ms")
    model = Model([Delay(rate, 2000.0, feedback=0.0, mix=1.0, knobs={"delay_ms": "time"})], rate, [knob])
    effect = neuralfx.NeuralEffect.from_json(model.to_modelfile().to_json())
    effect(np.zeros(1000, np.float32), rate)  # a stream at 500 ms
    effect.time = 1500.0
    effect(np.zeros(rate, np.float32), rate, reset=False)  # 1 s of glide: 100 time constants
    x = np.zeros(2 * rate, np.float32)
    x[0] = 1.0
    y = effect(x, rate, reset=False)
    # What a stream started at 1500 ms gives: the echo at 1.5 s (the float32 knob's rounding puts
    # a trace of it on the next sample).
    expected = effect(x, rate)
    assert np.flatnonzero(expected)[0] == 3 * rate // 2 and expected[3 * rate // 2] > 0.99
    np.testing.assert_array_equal(y, expected)
    # The torch side's smoother (knob_trajectory) lands alike.
    target = np.float32(knob.normalize(1500.0))
    assert smooth(np.full((1, rate), target, np.float32), np.array([knob.normalize(500.0)]), rate)[0, -1] == target


@pytest.mark.parametrize("rate", [48000, 96000])
def test_a_gate_starts_closed_on_quiet_hiss(rate: int) -> None:
    """Its smoothed gain started at 1 (open): the settle's 8192 samples of silence released it
    for 171 ms at 48 kHz, and with a 500 ms release the first 10 ms of -70 dBFS hiss came out
    3 dB down instead of at the static curve's -80 dB (at every call: effects reset by default)."""
    from neuralfx.dsp import NoiseGate

    model = Model([NoiseGate("rms", rate, release_ms=500.0)], rate)
    x = (np.random.default_rng(1).standard_normal(rate) * 10 ** (-70 / 20)).astype(np.float32)
    kernel = neuralfx.NeuralEffect.from_json(model.to_modelfile().to_json())(x, rate)
    with torch.no_grad():
        torch_out = model(torch.from_numpy(x)[None])[0][0].numpy()
    first = rate // 100
    for y in (kernel, torch_out):
        gain_db = 20 * np.log10(np.sqrt(np.mean(y[:first].astype(np.float64) ** 2) / np.mean(x[:first].astype(np.float64) ** 2)))
        assert gain_db < -70.0, gain_db
