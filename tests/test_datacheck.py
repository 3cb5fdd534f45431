"""Each data check on generated bad data: it stops with a message that says what is wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pedalboard
import pytest

from neuralfx import audio
from neuralfx.capture import CapturePair, capture_signal
from neuralfx.datacheck import CLIP_RUN, DataError, clipped_runs, dc_offset, dc_offset_note, prepare, read_pair

RATE = 48000


@pytest.fixture(scope="module")
def pair() -> CapturePair:
    x = capture_signal(RATE, 12.0)
    device = pedalboard.Pedalboard([pedalboard.Distortion(drive_db=10), pedalboard.LowpassFilter(5000),
                                    pedalboard.Gain(gain_db=-6)])
    return CapturePair(x, device(x, RATE), RATE)


def with_target(pair: CapturePair, target: np.ndarray) -> CapturePair:
    return CapturePair(pair.input, target.astype(np.float32), pair.sample_rate)


def test_good_pair_passes_unchanged(pair: CapturePair) -> None:
    out, found = prepare(pair)
    assert found.latency == 0 and not found.inverted
    assert np.array_equal(out.input, pair.input) and np.array_equal(out.target, pair.target)


def test_latency_is_removed_and_lengths_may_differ_by_it(pair: CapturePair) -> None:
    # A recorder that kept running: the target is longer by the latency.
    late = with_target(pair, np.concatenate([np.zeros(300), pair.target]))
    out, found = prepare(late)
    assert found.latency == 300
    assert np.array_equal(out.target, pair.target) and np.array_equal(out.input, pair.input)


def test_clipping_target_and_input(pair: CapturePair) -> None:
    clipped = np.clip(4 * pair.target, -1, 1)
    with pytest.raises(DataError, match=r"capture target clips: \d+ run\(s\) .* the first at \d+\.\d+ s.*Lower the level"):
        prepare(with_target(pair, clipped))
    prepare(with_target(pair, clipped), allow_clipping=True)  # a device that clips by design
    hot = CapturePair(np.clip(3 * pair.input, -1, 1), pair.target, RATE)
    with pytest.raises(DataError, match="capture input clips"):
        prepare(hot)


def test_clipping_means_held_samples_not_loud_ones() -> None:
    x = np.zeros(100, np.float32)
    x[10:10 + CLIP_RUN] = 1.0
    x[50:50 + CLIP_RUN - 1] = -1.0  # one short of a run
    x[80:90] = np.linspace(0.9995, 1.2, 10)  # loud but moving: a float file above full scale
    assert list(clipped_runs(x)) == [10]
    # The standard capture signal's own loudest chords touch full scale, but never hold there.
    assert len(clipped_runs(capture_signal(RATE))) == 0


def test_silent_and_quiet_targets(pair: CapturePair) -> None:
    with pytest.raises(DataError, match="capture target is silent"):
        prepare(with_target(pair, np.zeros_like(pair.target)))
    quiet = pair.target / np.max(np.abs(pair.target)) * 10 ** (-52 / 20)
    with pytest.raises(DataError, match=r"capture target peaks at -52.0 dBFS, below the minimum of -40 dBFS"):
        prepare(with_target(pair, quiet))
    with pytest.raises(DataError, match="capture input is silent"):
        prepare(CapturePair(np.zeros_like(pair.input), pair.target, RATE))


def test_inverted_polarity_stops_unless_asked(pair: CapturePair) -> None:
    inverted = with_target(pair, -pair.target)
    with pytest.raises(DataError, match="polarity is inverted.*--polarity flip.*--polarity keep"):
        prepare(inverted)
    flipped, found = prepare(inverted, polarity="flip")
    assert found.inverted and np.array_equal(flipped.target, pair.target)
    kept, _ = prepare(inverted, polarity="keep")
    assert np.array_equal(kept.target, -pair.target)


def test_misaligned_pairs(pair: CapturePair) -> None:
    unrelated = with_target(pair, 0.5 * np.random.default_rng(0).standard_normal(len(pair.target)))
    with pytest.raises(DataError, match="no clear peak"):
        prepare(unrelated)
    late = with_target(pair, np.pad(pair.target, (24000, 0))[: len(pair.target)])  # 0.5 s
    with pytest.raises(DataError, match=r"latency is 24000 samples \(0.500 s; lags up to 2 s correlated\), above the maximum of 0.25 s"):
        prepare(late, max_latency_seconds=0.25)


def test_length_mismatch_beyond_latency(pair: CapturePair) -> None:
    longer = with_target(pair, np.concatenate([pair.target, 0.1 * pair.target[:RATE]]))
    with pytest.raises(DataError, match=r"input has 576000 frames but target has 624000 .*not one take"):
        prepare(longer)


def test_files_rates_and_channels(tmp_path: Path, pair: CapturePair) -> None:
    audio.write(tmp_path / "in.wav", pair.input, RATE)
    audio.write(tmp_path / "t44.wav", pair.target, 44100)
    with pytest.raises(DataError, match="input is 48000 Hz but target is 44100 Hz"):
        read_pair(tmp_path / "in.wav", tmp_path / "t44.wav")
    audio.write(tmp_path / "t.wav", np.stack([pair.target, 0.5 * pair.target]), RATE)
    with pytest.raises(DataError, match="the files are 48000 Hz but 44100 Hz was requested"):
        read_pair(tmp_path / "in.wav", tmp_path / "t.wav", sample_rate=44100)
    notes: list[str] = []
    loaded = read_pair(tmp_path / "in.wav", tmp_path / "t.wav", progress=notes.append)
    assert np.array_equal(loaded.target, pair.target)  # the first channel
    assert len(notes) == 1 and "2 differing channels; using the first" in notes[0]
    # The device on the second channel alone: "target is silent ... check that the device is on"
    # said the first channel was all there was.
    audio.write(tmp_path / "right.wav", np.stack([np.zeros_like(pair.target), pair.target]), RATE)
    with pytest.raises(DataError, match=r"target '.*right.wav': channel 1 is silent and channel 2 carries the signal, "
                                        r"and the first channel is the one used unless another is chosen: choose it \(train, "
                                        r"fit, report: --input-channel / --target-channel\)"):
        read_pair(tmp_path / "in.wav", tmp_path / "right.wav")
    assert np.array_equal(read_pair(tmp_path / "in.wav", tmp_path / "right.wav", target_channel=2).target, pair.target)


def test_an_input_with_a_dc_offset_is_noted(pair: CapturePair) -> None:
    # The capture signal's plucks are asymmetric: its whole mean reached 0.015 at 12 s, 48 kHz,
    # seed 51 and was noted as a DC offset to remove; its median block mean is 0.0053 at most.
    for seconds, rate, seed in ((12.0, 48000, 51), (12.0, 44100, 28), (12.0, 48000, 0)):
        x = capture_signal(rate, seconds, seed)
        assert dc_offset_note({"capture 0": dc_offset(x, rate)}) is None, (seconds, rate, seed)
    assert abs(float(np.mean(capture_signal(48000, 12.0, 51), dtype=np.float64))) > 0.01  # the case it was
    offset = dc_offset(pair.input + 0.4, RATE)
    assert offset == pytest.approx(0.4, abs=1e-3)
    note = dc_offset_note({"capture 0 (drive=0)": offset, "capture 1 (drive=12)": offset, "capture 2": 0.0})
    assert note is not None and note.startswith(f"note: the input of capture 0 (drive=0), capture 1 (drive=12) has a "
                                                f"DC offset of {offset:+.3g} (the median of its 0.1 s blocks' means, or its mean if shorter)")
