"""The kernel's resampler as Python uses it (neuralfx._core.Resampler, inside RateAdapter): time
positions kept exactly, every owed sample returned by flush, output independent of block cuts."""

from __future__ import annotations

import numpy as np
import pytest

from neuralfx import _core
from neuralfx.resampling import RateAdapter

from conftest import woke_during


def tone(freq: float, rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None]


@pytest.mark.parametrize("inner", [48000, 96000, 22050])
def test_round_trip_returns_the_signal_in_place(inner: int) -> None:
    """44.1 kHz -> inner -> 44.1 kHz through an identity: the same samples, the same length.
    Pedalboard's StreamResampler, used before, put a 440 Hz tone 0.5 samples early through
    44.1 -> 48 -> 44.1 kHz: 0.016 off."""
    x = tone(440.0, 44100)
    adapter = RateAdapter(lambda z: z, 44100, inner, 1)
    y = np.concatenate([adapter.process(x[:, :10007]), adapter.process(x[:, 10007:]), adapter.flush()], axis=1)
    assert y.shape == x.shape  # exactly (each conversion rounds its count up: it gave one more)
    core = slice(2000, x.shape[1] - 2000)  # away from the abrupt start and end
    assert np.max(np.abs(y[:, core] - x[:, core])) < 2e-4


def test_the_processor_runs_on_silence_around_the_audio_and_streams_again_after_a_flush() -> None:
    """The conversion back of the first and last samples reads the processor's output around
    them: its output on silence (here an offset, as a resting amp's), not zeros. The margin is a
    whole number of inner samples, so the processor sees the samples it would see without it."""
    offset = 0.01
    adapter = RateAdapter(lambda z: np.tanh(3 * z) + offset, 44100, 48000, 1)
    x = np.zeros((1, 4410), np.float32)
    first = np.concatenate([adapter.process(x), adapter.flush()], axis=1)
    assert first.shape == x.shape
    assert np.allclose(first, offset, atol=1e-5)  # zeros around the audio made steps at both ends
    x = tone(440.0, 44100, 0.1)
    once = np.concatenate([adapter.process(x), adapter.flush()], axis=1)
    again = np.concatenate([adapter.process(x[:, :7]), adapter.process(x[:, 7:7]), adapter.process(x[:, 7:]),
                            adapter.flush()], axis=1)
    assert np.array_equal(once, again)  # after a flush a new stream starts with its margin again


def test_an_impulse_lands_at_its_time() -> None:
    """Up from 44.1 to 88.2 kHz, sample 1000 becomes sample 2000: the peak, and the response
    around it symmetric (no fractional delay)."""
    x = np.zeros((1, 4410), np.float32)
    x[0, 1000] = 1.0
    r = _core.Resampler(44100, 88200, 1)
    y = np.concatenate([r.process(x), r.flush()], axis=1)[0]
    assert len(y) == 8820
    assert int(np.argmax(y)) == 2000
    assert np.allclose(y[2000 - 64 : 2000], y[2001 : 2065][::-1], atol=1e-6)


def test_flush_returns_every_owed_sample_and_cuts_do_not_matter() -> None:
    """Output count is ceil(n * out / in), and any cutting of the input gives the same samples."""
    rng = np.random.default_rng(3)
    x = (0.3 * rng.standard_normal((2, 12345))).astype(np.float32)
    whole = _core.Resampler(44100, 48000, 2)
    expected = np.concatenate([whole.process(x), whole.flush()], axis=1)
    assert expected.shape == (2, -(-12345 * 48000 // 44100))
    cut = _core.Resampler(44100, 48000, 2)
    parts, start = [], 0
    for size in (1, 2, 3, 500, 4097, 7000):
        parts.append(cut.process(x[:, start : start + size]))
        start += size
    parts.append(cut.process(x[:, start:]))
    parts.append(cut.flush())
    assert np.array_equal(np.concatenate(parts, axis=1), expected)
    # After a flush the stream starts afresh.
    again = np.concatenate([cut.process(x), cut.flush()], axis=1)
    assert np.array_equal(again, expected)


def test_bad_rates_and_shapes_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="whole numbers of Hz between 1 and 10 MHz, got 44100.5$"):
        _core.Resampler(44100.5, 48000, 1)
    with pytest.raises(ValueError, match="filter phases"):
        _core.Resampler(44100, 47999, 1)
    # It told a user of a 1000 Hz model to convert the audio to 44100 or 48000 Hz, which it was.
    with pytest.raises(ValueError, match=r"cannot convert between 48000 Hz and 1000 Hz \(needs \d+ filter taps, "
                                         r"limit \d+\): use two rates closer together or in a simpler ratio"):
        _core.Resampler(48000, 1000, 1)
    with pytest.raises(ValueError, match=r"expected a \(2, samples\) float32 array"):
        _core.Resampler(44100, 48000, 2).process(np.zeros((1, 10), np.float32))


def test_a_second_thread_is_refused_not_let_in() -> None:
    """The resampler converts without the GIL: a second thread on the same stream is an error,
    as for a model (two threads used to corrupt the heap). The second call is made while the
    first is inside the conversion (conftest.woke_during)."""
    r = _core.Resampler(44100, 48000, 1)
    long_input = np.zeros((1, 4_000_000), np.float32)

    def second_call() -> None:
        with pytest.raises(RuntimeError, match="another thread"):
            r.process(np.zeros((1, 10), np.float32))

    assert woke_during(lambda: r.process(long_input), second_call)


def test_extreme_ratios_are_refused() -> None:
    with pytest.raises(ValueError, match="filter taps"):
        _core.Resampler(100000, 1, 1)
