"""The capture signal and running devices under test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pedalboard
import pytest

from neuralfx.capture import (ALIGNMENT_CLICKS_SECONDS, ALIGNMENT_SECONDS, NOTES_CEILING, CapturePair, capture,
                              capture_signal)
from neuralfx.datacheck import clipped_runs


def test_signal_is_deterministic_and_sized() -> None:
    a = capture_signal(48000, 20.0, seed=3)
    assert np.array_equal(a, capture_signal(48000, 20.0, seed=3))
    assert not np.array_equal(a, capture_signal(48000, 20.0, seed=4))
    assert a.dtype == np.float32 and len(a) == 20 * 48000
    # Loud enough to drive a device hard (the top sweep is at 0.9), and never held at full
    # scale the way the data checks would refuse as a clipping converter.
    assert np.max(np.abs(a)) >= 0.9
    assert len(clipped_runs(a)) == 0


def test_overlapping_notes_are_played_softer_not_clipped() -> None:
    # Chords strummed over the previous chord's ring summed past full scale (96 samples of the
    # default signal were clipped); such an event is now scaled down to fit under the ceiling.
    x = capture_signal()
    assert np.max(np.abs(x)) <= np.float32(NOTES_CEILING)
    assert np.sum(np.abs(x) >= np.float32(NOTES_CEILING)) >= 1  # the softening reaches the ceiling, no lower


def test_default_signal_is_minutes_long_with_every_section() -> None:
    x = capture_signal()
    rate = 48000
    assert len(x) == 180 * rate
    # Alignment clicks: isolated single-sample impulses at their documented times.
    align = x[: int(ALIGNMENT_SECONDS * rate)]
    peaks = np.flatnonzero(np.abs(align) > 0.1)
    assert list(peaks) == [int(t * rate) for t in ALIGNMENT_CLICKS_SECONDS]
    # Several levels: the 100 ms RMS spans quiet to loud.
    frames = x[: len(x) // 4800 * 4800].reshape(-1, 4800)
    rms_db = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-12)
    active = rms_db[rms_db > -100]
    assert active.max() - np.percentile(active, 5) > 30
    # Silences between sections, so decays are captured.
    assert np.sum(rms_db < -100) >= 10
    # Broadband: the lowest octaves and the top one each carry a power density within 30 dB of
    # the whole spectrum's mean (measured: +20 dB and -6 dB; a 1 kHz sine gives -228 and -157).
    power = np.abs(np.fft.rfft(x[: 60 * rate])) ** 2
    freqs = np.fft.rfftfreq(60 * rate, 1 / rate)
    for band in ((freqs > 20) & (freqs < 60), (freqs > 10000) & (freqs < 20000)):
        assert 10 * np.log10(power[band].mean() / power.mean()) > -30


def test_capture_runs_a_pedalboard_device_and_saves(tmp_path: Path) -> None:
    device = pedalboard.Pedalboard([pedalboard.Gain(gain_db=12), pedalboard.Distortion(drive_db=10)])
    pair = capture(device, 48000, 12.0)
    expected = device(pair.input, 48000)
    assert np.max(np.abs(pair.target - expected)) < 1e-6
    paths = pair.save(tmp_path)
    back = CapturePair.load(*paths)
    assert np.array_equal(back.input, pair.input) and np.array_equal(back.target, pair.target)


def test_recorded_pairs_must_share_a_rate(tmp_path: Path) -> None:
    """Lengths may differ by the device's latency: neuralfx.datacheck checks them (test_datacheck.py)."""
    from neuralfx import audio

    audio.write(tmp_path / "a.wav", np.zeros(48000, np.float32) + 0.1, 48000)
    audio.write(tmp_path / "b.wav", np.zeros(44100, np.float32) + 0.1, 44100)
    with pytest.raises(ValueError, match="48000 Hz but target is 44100 Hz"):
        CapturePair.load(tmp_path / "a.wav", tmp_path / "b.wav")


def test_a_device_that_gives_nan_is_named_with_what_to_check() -> None:
    # A low-pass above half the rate gives NaN in Pedalboard; the message said to re-export a file.
    with pytest.raises(ValueError, match=r"device output contains NaN or Inf \(first at channel 0, sample \d+\): a stage "
                                         r"may be set beyond what 8000 Hz allows \(a filter at or above half the rate, "
                                         r"4000 Hz, gave NaN in Pedalboard\)"):
        capture(pedalboard.Pedalboard([pedalboard.LowpassFilter(cutoff_frequency_hz=5000)]), 8000, 12.0)


def test_a_pair_takes_float64_and_lists_and_refuses_channels_and_integers() -> None:
    """float64 reached the network after the data checks (a torch dtype error), a (2, N) array
    failed inside clipped_runs: a pair is checked where it is made."""
    x = np.linspace(-0.5, 0.5, 480)
    pair = CapturePair(x, list(x), 48000)
    assert pair.input.dtype == np.float32 and pair.target.dtype == np.float32
    assert np.array_equal(pair.input, x.astype(np.float32)) and np.array_equal(pair.target, pair.input)
    with pytest.raises(ValueError, match=r"input must be mono.*shape \(2, 480\).*x\.mean\(axis=0\)"):
        CapturePair(np.stack([x, x]), x, 48000)
    with pytest.raises(ValueError, match=r"target must hold float samples.*int16.*32768"):
        CapturePair(x, (x * 32767).astype(np.int16), 48000)
    # The float32 cast made Inf of it, which the data checks then called NaN or Inf.
    loud = x.copy()
    loud[9] = 1e300
    with pytest.raises(ValueError, match=r"CapturePair target holds 1e\+300 \(sample 9\), beyond float32's range"):
        CapturePair(x, loud, 48000)
