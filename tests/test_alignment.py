"""Latency and polarity detection by whitened cross-correlation, on devices with known delays."""

from __future__ import annotations

import numpy as np
import pedalboard
import pytest
from scipy.signal import butter, firwin, lfilter

from neuralfx.alignment import ONSET_FRACTION, AlignmentError, detect, remove_latency
from neuralfx.capture import CapturePair, capture_signal, white_noise_parts
from neuralfx.datacheck import prepare

from conftest import noise, plucks

RATE = 48000


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    return capture_signal(RATE, 12.0)


def amp() -> pedalboard.Pedalboard:
    """A crunch-amp-like device: its low-pass puts its impulse response's peak after its onset."""
    return pedalboard.Pedalboard([pedalboard.HighpassFilter(90), pedalboard.Distortion(drive_db=12),
                                  pedalboard.LowpassFilter(4500), pedalboard.Gain(gain_db=-3)])


def delayed(device: pedalboard.Plugin, samples: int, signal: np.ndarray) -> np.ndarray:
    """The device's output delayed by exactly `samples` (np.pad: no interpolation)."""
    return np.pad(device(signal, RATE), (samples, 0))[: len(signal)]


@pytest.mark.parametrize("samples", [0, 1, 37, 480, 4800, 14400])
def test_capture_signal_latency_found(signal: np.ndarray, samples: int) -> None:
    a = detect(signal, delayed(amp(), samples, signal), RATE)
    assert (a.latency, a.inverted) == (samples, False)
    assert a.latency_ms == pytest.approx(1000 * samples / RATE)


@pytest.mark.parametrize("cutoff_hz", [1500, 3000])
@pytest.mark.parametrize("samples", [0, 5, 144])
def test_a_filter_before_the_distortion_reads_its_latency_whatever_it_is(signal: np.ndarray, cutoff_hz: float,
                                                                          samples: int) -> None:
    """The estimate of such a device's response has a lobe of the other sign before its onset.
    Walked through by magnitude, 144 samples read 140 (and 0 read 0: the error depended on the
    latency); the model trained on the reading scored 2.6x the ESR (a review's measurement)."""
    b, a = butter(2, cutoff_hz / (RATE / 2))
    y = np.pad(0.7 * np.tanh(4 * lfilter(b, a, signal.astype(np.float64))), (samples, 0))[: len(signal)]
    assert detect(signal, y.astype(np.float32), RATE).latency == samples


@pytest.mark.parametrize("samples", [0, 7, 144])
def test_a_ramp_before_the_onset_is_no_lobe(signal: np.ndarray, samples: int) -> None:
    """Pedalboard's ladder band-pass estimates a flat +0.06..0.076 ramp before its -0.18 onset: a
    first version of the pre-lobe rule, testing only the last lag against 5 %, read 143 for 144."""
    device = pedalboard.LadderFilter(pedalboard.LadderFilter.Mode.BPF12, 800, 0.7)
    assert detect(signal, delayed(device, samples, signal), RATE).latency == samples


@pytest.mark.parametrize("drive_db", [31, 40])
@pytest.mark.parametrize("sign", [1, -1])
def test_a_saturating_device_keeps_its_polarity_and_latency(signal: np.ndarray, drive_db: float, sign: int) -> None:
    # The high_gain_amp recipe's device. Its input high-pass's undershoot after each alignment
    # click, driven into clipping, outweighs the click: on the clicks alone it read as inverted
    # (and at 31 dB 3 samples late), and the recipe no longer trained.
    device = pedalboard.Pedalboard([
        pedalboard.HighpassFilter(150), pedalboard.Distortion(drive_db=drive_db),
        pedalboard.PeakFilter(1200, gain_db=5, q=0.7), pedalboard.Gain(gain_db=-12), pedalboard.Distortion(drive_db=6),
        pedalboard.LowpassFilter(5000), pedalboard.Gain(gain_db=-4)])
    y = sign * delayed(device, 240, signal)
    a = detect(signal, y, RATE)
    assert (a.latency, a.inverted) == (240, sign < 0)


@pytest.mark.parametrize("samples", [37, 480, 4800])
def test_pedalboard_delay_latency_within_a_sample(signal: np.ndarray, samples: int) -> None:
    # Pedalboard's Delay fully wet: its delay time in seconds rounds to a sample either side
    # (480 samples come out as 479); sub-sample accuracy is not the aim.
    device = pedalboard.Delay(delay_seconds=samples / RATE, feedback=0.0, mix=1.0)
    y = device(amp()(signal, RATE), RATE)
    assert abs(detect(signal, y, RATE).latency - samples) <= 1


@pytest.mark.parametrize("samples", [30000, 57600])
def test_latency_beyond_the_alignment_clicks_is_found(signal: np.ndarray, samples: int) -> None:
    # 0.625 s pushes the last click's response past the 1.5 s alignment section; 1.2 s every click's.
    a = detect(signal, delayed(amp(), samples, signal), RATE, max_latency_seconds=2.0)
    assert a.latency == samples


@pytest.mark.parametrize("samples", [0, 240, 9000])
def test_pair_recorded_elsewhere_is_aligned(samples: int) -> None:
    x = np.concatenate([plucks(4.0), noise(2.0, level=0.2)])
    y = np.pad(amp()(x, RATE), (samples, 0))[: len(x)]  # np.pad: a delay without any plugin
    a = detect(x, y, RATE)
    assert (a.latency, a.inverted) == (samples, False)


def test_inverted_polarity_is_detected(signal: np.ndarray) -> None:
    y = -delayed(amp(), 100, signal)
    a = detect(signal, y, RATE)
    assert (a.latency, a.inverted) == (100, True)
    assert "polarity inverted" in a.describe()


def test_latency_above_the_maximum_is_refused(signal: np.ndarray) -> None:
    y = delayed(amp(), 14400, signal)  # 0.3 s
    with pytest.raises(AlignmentError, match=r"14400 samples \(0.300 s; lags up to 2 s correlated\), above the "
                                             r"maximum of 0.2 s"):
        detect(signal, y, RATE, max_latency_seconds=0.2)
    assert detect(signal, y, RATE, max_latency_seconds=0.5).latency == 14400
    # A small maximum still searches the default's lags: with twice 1 ms searched, 5 ms read as
    # 0.92 ms off a side lobe and trained misaligned.
    with pytest.raises(AlignmentError, match=r"latency is 240 samples \(0.005 s; .*above the maximum of 0.001 s"):
        detect(signal, delayed(amp(), 240, signal), RATE, max_latency_seconds=0.001)
    # Within 1 ms nothing lies further than the 2.5 ms that makes a second peak: no ambiguity
    # (such devices read as "second peak at 100 %" and were refused).
    for samples in (0, 10):
        assert detect(signal, delayed(amp(), samples, signal), RATE, max_latency_seconds=0.001).latency == samples


def test_a_delay_pedals_echoes_beyond_a_small_maximum_do_not_count_against_it(signal: np.ndarray) -> None:
    """The echoes of a delay (0.12-0.5 s, 50 % feedback) lie beyond a 10 ms maximum: they are the
    device's sound, and the pair aligns on its dry path (refused as ambiguous when every lag
    correlated counted)."""
    for seconds in (0.12, 0.3):
        device = pedalboard.Pedalboard([pedalboard.Distortion(drive_db=10),
                                        pedalboard.Delay(delay_seconds=seconds, feedback=0.5, mix=0.5)])
        assert detect(signal, delayed(device, 96, signal), RATE, max_latency_seconds=0.01).latency == 96


def test_unrelated_target_is_ambiguous() -> None:
    x = np.concatenate([plucks(3.0), noise(2.0, seed=1)])
    y = np.concatenate([plucks(3.0, seed=5), noise(2.0, seed=2)])
    with pytest.raises(AlignmentError, match="no clear peak"):
        detect(x, y, RATE)


def test_target_leading_the_input_is_refused() -> None:
    x = np.concatenate([plucks(3.0), noise(1.0)])
    y = np.pad(x[300:], (0, 300))  # the target's first 300 samples were cut
    with pytest.raises(AlignmentError, match="leads the input by 300 samples"):
        detect(x, y, RATE)
    # A device whose response peaks a sample after its onset, as a filter's does: it was 299.
    smeared = 0.7 * y + np.concatenate([[0.0], y[:-1]]).astype(np.float32)
    with pytest.raises(AlignmentError, match="leads the input by 300 samples"):
        detect(x, smeared, RATE)


def test_remove_latency_shifts_the_target_and_cuts_to_a_common_length() -> None:
    x = np.arange(10, dtype=np.float32)
    y = np.concatenate([np.zeros(3, np.float32), 2 * x])
    xs, ys = remove_latency(x, y, 3)
    assert np.array_equal(ys, 2 * xs) and len(xs) == 10


def filtered(b: np.ndarray, a: np.ndarray, signal: np.ndarray, samples: int, drive: float | None = None) -> np.ndarray:
    """signal through the filter (b, a), then tanh(drive * .) when a drive is given, delayed."""
    y = lfilter(b, a, signal.astype(np.float64))
    y = np.tanh(drive * y) if drive else y
    return np.pad(y, (samples, 0))[: len(signal)].astype(np.float32)


def band_pass(low_hz: float = 700.0, high_hz: float = 900.0) -> tuple[np.ndarray, np.ndarray]:
    """A 4th-order Butterworth band-pass: at 700-900 Hz its lobes grow for 90 samples."""
    return butter(2, [low_hz / (RATE / 2), high_hz / (RATE / 2)], btype="band")


@pytest.fixture(scope="module")
def signal_20s() -> np.ndarray:
    """The shortest capture whose white noise parts are read on (alignment.NOISE_PARTS_PER_WINDOW)."""
    return capture_signal(RATE, 20.0)


DEVICES = {
    "band-pass": lambda x, d: filtered(*band_pass(), x, d),
    "band-pass into tanh": lambda x, d: filtered(*band_pass(), x, d, drive=5),
    # Its first lobe reaches 14 % of the peak, the next 34 %: read inverted when the polarity came
    # from the first lobe reaching 25 % (a review).
    "2 kHz band-pass into tanh": lambda x, d: filtered(*band_pass(1900, 2100), x, d, drive=5),
    "low-pass into fuzz": lambda x, d: filtered(*butter(2, 500 / (RATE / 2)), x, d, drive=30),
}


@pytest.mark.parametrize("samples", [0, 5, 144])
@pytest.mark.parametrize("device", list(DEVICES))
def test_on_the_capture_signal_the_noise_reads_onset_and_polarity(signal_20s: np.ndarray, device: str,
                                                                  samples: int) -> None:
    """Read on the whole pair, the band-pass (linear, or into tanh) came out 76-77 samples late and
    inverted (its largest lobe is its fourth; the linear one now reads right there too:
    test_a_band_pass_reads_at_its_own_onset), and tanh(30 lowpass_500(x)) 5-7 early and inverted.
    On the capture signal's white noise their estimates are causal: the onset is read at most a
    filter's rise late, and in phase. Through prepare, as training runs it: an inverted reading
    stopped training with a polarity error."""
    _, found = prepare(CapturePair(signal_20s, DEVICES[device](signal_20s, samples), RATE, recorded=False))
    assert samples <= found.latency <= samples + 3 and not found.inverted


def onset_of(b: np.ndarray, a: np.ndarray) -> tuple[int, bool]:
    """(onset, inverted) of the filter's own impulse response by the rule alignment applies: the
    first lag reaching ONSET_FRACTION of its peak, and its sign there."""
    h = lfilter(b, a, np.eye(1, 4096).ravel())
    onset = int(np.flatnonzero(np.abs(h) >= ONSET_FRACTION * np.abs(h).max())[0])
    return onset, bool(h[onset] < 0)


def test_a_band_pass_reads_at_its_own_onset(signal: np.ndarray, signal_20s: np.ndarray) -> None:
    """A 4th-order band-pass's largest lobe comes late: the whole pair's reading from it read the
    700-900 Hz one 77 samples late and inverted. Linear, walked back through its lobes (1.5 ms of
    them), it reads at the onset and with the polarity of its own impulse response, on the capture
    signal's noise (20 s), on the whole of a 12 s capture, and on plucked notes. (A 500-1500 Hz
    one's 12 samples of lobes are within the lobes the whitening makes: read 13 late but on the
    noise; alignment.RINGING_SECONDS. Into tanh on a 12 s capture, not linear: read 76 late.)"""
    b, a = band_pass(700.0, 900.0)
    onset, inverted = onset_of(b, a)
    music = np.concatenate([plucks(3.0), noise(2.0, seed=1)])
    for x, parts in [(signal_20s, white_noise_parts(signal_20s, RATE)), (signal, None), (music, None)]:
        for samples in (0, 144):
            found = detect(x, filtered(b, a, x, samples), RATE, noise=parts)
            assert abs(found.latency - (samples + onset)) <= 1 and found.inverted == inverted, (len(x), samples)


@pytest.mark.parametrize("band", [(750.0, 850.0), (100.0, 150.0)])
def test_a_ringing_band_pass_is_refused_for_what_it_is(signal_20s: np.ndarray, band: tuple[float, float]) -> None:
    """Band-passes 100 Hz wide or narrower ring: lobes above half the peak lie further than 2.5 ms
    from it. An echo inside the ring cannot be told from it (a band-pass into a 5 ms delay read 21
    samples late and inverted when the ring was left out of the ambiguity: a review), so the pair
    is refused, with a message that names the ring instead of a second peak; a delay's echo,
    after a dip, is named as a second peak (test_training)."""
    b, a = band_pass(*band)
    parts = white_noise_parts(signal_20s, RATE)
    with pytest.raises(AlignmentError, match=r"the device's response rings for \d+ ms \(lags \d+\.\.\d+\), with "
                                             r"lobes at \d+% of its peak more than 2.5 ms from it .*"
                                             r"\(align=False, --no-align\)"):
        detect(signal_20s, filtered(b, a, signal_20s, 144), RATE, noise=parts)
    with pytest.raises(AlignmentError, match="no clear peak"):
        delay = pedalboard.Delay(delay_seconds=0.3, feedback=0.4, mix=0.5)
        detect(signal_20s, delayed(delay, 0, signal_20s), RATE, noise=parts)


def test_lobes_the_whitening_puts_before_a_linear_devices_peak_are_not_walked_through() -> None:
    """Where the input lacks energy (a guitar DI rolling off from 5 kHz), the estimate is the
    response smoothed by a kernel of zero phase, with lobes before the peak; a linear-phase FIR
    rings before its peak too. Walked back through, a gain of 2 read 3 samples early and
    inverted, an FIR with its latency compensated as a target that leads, and a tap of -0.3 three
    samples before the main one inverted (a review). Walks of a few samples stand no longer."""
    x = np.concatenate([plucks(3.0), noise(2.0, seed=1)])
    di = lfilter(*butter(2, 5000, fs=RATE), x).astype(np.float32)
    for samples in (0, 64):
        # The whole pair's reading, as before the walk: 0 and 62 (the kernel's own lobe reaches
        # ONSET_FRACTION 2 samples early).
        found = detect(di, 2 * np.pad(di, (samples, 0))[: len(di)], RATE)
        assert samples - 2 <= found.latency <= samples and not found.inverted
    fir = lfilter(firwin(101, 0.54), 1.0, x).astype(np.float32)
    found = detect(x, fir, RATE)
    assert (found.latency, found.inverted) == (48, False)
    assert detect(x, np.pad(fir[50:], (0, 50)), RATE).latency == 0
    # A 1001-tap linear-phase low-pass at 300 Hz rings for 141 samples before its peak, more than
    # a walk needs: the lobes mirror those after the peak, and it reads as before the walk.
    long_fir = lfilter(firwin(1001, 300, fs=RATE), 1.0, x).astype(np.float32)
    found = detect(x, long_fir, RATE)
    assert (found.latency, found.inverted) == (428, False)
    early_tap = np.pad(-0.3 * x + np.pad(x, (3, 0))[: len(x)], (144, 0))[: len(x)]
    assert not detect(x, early_tap, RATE).inverted


def test_a_target_trimmed_by_a_few_samples_still_reads_as_leading(signal_20s: np.ndarray) -> None:
    """The walk on the noise goes into negative lags: a trimmed fuzz capture read 0 (and trained
    misaligned) where the whole pair's reading refused it."""
    y = DEVICES["low-pass into fuzz"](signal_20s, 0)
    for cut in (2, 5):
        trimmed = np.concatenate([y[cut:], np.zeros(cut, np.float32)])
        with pytest.raises(AlignmentError, match=f"leads the input by {cut - 1} samples"):
            detect(signal_20s, trimmed, RATE, noise=white_noise_parts(signal_20s, RATE))


def test_a_noise_estimate_too_noisy_to_read_leaves_the_whole_pairs_reading(signal_20s: np.ndarray) -> None:
    """The noise reading stands only where the estimate's floor lies well under the onset's
    threshold (alignment.NOISE_FLOOR_MARGIN): with hiss added to the target's noise parts, the
    band-pass is judged on the whole pair alone, where the hiss keeps its estimate from predicting
    the target as a filter's (so its lobes are not walked): read 77 samples late there."""
    parts = white_noise_parts(signal_20s, RATE)
    y = DEVICES["band-pass"](signal_20s, 144)
    assert 144 <= detect(signal_20s, y, RATE, noise=parts).latency <= 147
    rng = np.random.default_rng(0)
    for lo, hi in parts:
        y[lo:hi] += 0.01 * rng.standard_normal(hi - lo).astype(np.float32)
    assert detect(signal_20s, y, RATE, noise=parts) == detect(signal_20s, y, RATE)
    assert detect(signal_20s, y, RATE).latency > 144 + 50


def test_a_12_second_captures_noise_is_too_short_to_read(signal: np.ndarray) -> None:
    """Its 600-sample parts are shorter than the window: the floor far from the response understated
    the noise near it, and a two-stage amp read 22 samples early at one latency (a review)."""
    parts = white_noise_parts(signal, RATE)
    assert parts is not None
    y = DEVICES["band-pass"](signal, 144)
    assert detect(signal, y, RATE, noise=parts) == detect(signal, y, RATE)


def test_only_the_capture_signal_has_noise_parts(signal_20s: np.ndarray) -> None:
    parts = white_noise_parts(signal_20s, RATE)
    assert parts is not None and len(parts) == 3
    # Three levels of white Gaussian noise (clipped at 3 sigma): 0.02, 0.1 and 0.4 / 3 RMS.
    rms = [float(np.sqrt(np.mean(signal_20s[lo:hi].astype(np.float64) ** 2))) for lo, hi in parts]
    assert rms == pytest.approx([0.02 / 3, 0.1 / 3, 0.4 / 3], rel=0.02)
    assert white_noise_parts(0.5 * signal_20s, RATE) is None  # its clicks are not the signal's
    assert white_noise_parts(signal_20s[: 11 * RATE], RATE) is None  # shorter than any capture signal
    assert white_noise_parts(noise(20.0), RATE) is None
    # Audio added at the end, or cut from it, moves the layout computed from the length: the
    # parts found there are not the noise (0.1 s of silence put all three in gaps).
    assert white_noise_parts(np.concatenate([signal_20s, np.zeros(RATE // 10, np.float32)]), RATE) is None
    assert white_noise_parts(signal_20s[:-100], RATE) is None
