"""Which audio training holds out: a piece of every span, so validation hears all of a capture."""

from __future__ import annotations

import numpy as np
import pytest

import neuralfx.model
from neuralfx.capture import CapturePair, signal_sections
from neuralfx.holdout import MIN_VALIDATION_SAMPLES, Holdout
from neuralfx.training import Capture, TrainConfig, holdout, train

import pedalboard


@pytest.mark.parametrize("samples", [10_843, 96_001, 576_000, 8_640_007])
@pytest.mark.parametrize("spans", [1, 3, 8])
def test_the_spans_cover_a_capture_once(samples: int, spans: int) -> None:
    held = Holdout(0.15, spans)
    pieces = held.pieces(samples)
    assert len(pieces) == spans and pieces[0][0] == 0 and pieces[-1][2] == samples
    assert all(a[2] == b[0] for a, b in zip(pieces, pieces[1:]))  # no gap, no overlap
    assert all(lo < cut < hi for lo, cut, hi in pieces)
    held_out = sum(hi - lo for lo, hi in held.held_out(samples))
    assert abs(held_out - 0.15 * samples) <= spans  # each span rounds by under a sample
    x = np.arange(samples, dtype=np.float32)
    assert held.held_out_audio(x).tolist() == [i for lo, hi in held.held_out(samples) for i in range(lo, hi)]
    if spans == 1:  # models trained before the spans held out the end: a report of one finds the same audio
        assert held.trained(samples) == [(0, int(samples * 0.85))]


@pytest.mark.parametrize("need", [1_280, 9_216, 12_285])
@pytest.mark.parametrize("spans", [1, 2, 8])
def test_shortest_is_the_shortest_that_holds_a_segment_in_every_span(need: int, spans: int) -> None:
    held = Holdout(0.15, spans)
    shortest = held.shortest(100, need)
    assert held.long_enough(shortest, need) and not held.long_enough(shortest - 1, need)
    assert held.shortest(shortest, need) is None
    assert sum(hi - lo for lo, hi in held.held_out(shortest)) >= MIN_VALIDATION_SAMPLES
    assert all(hi - lo >= need for lo, hi in held.trained(shortest))


def test_the_default_holds_out_every_section_of_the_capture_signal() -> None:
    """With the end alone held out, validation heard only the chords: not the sweeps or the noise,
    where a review measured an LSTM 5-11x worse."""
    rate, seconds = 48000, 180.0
    sections = signal_sections(rate, seconds)
    covered = {name for lo, hi in holdout(TrainConfig()).held_out(int(rate * seconds))
               for name, s_lo, s_hi in sections if max(lo, s_lo) < min(hi, s_hi)}
    assert {"sweeps", "noise", "notes", "chords"} <= covered
    assert Holdout(0.15).held_out(int(rate * seconds))[0][0] > sections[-1][1]  # the end alone: chords only


def test_training_never_trains_on_held_out_audio(monkeypatch) -> None:
    # Noise without silence, so that every segment's first samples occur once in the capture.
    x = (0.2 * np.random.default_rng(1).standard_normal(12 * 48000)).astype(np.float32)
    pair = CapturePair(x, pedalboard.Pedalboard([pedalboard.Distortion(drive_db=12)])(x[None], 48000)[0], 48000)
    config = TrainConfig(hidden_size=8, batch_size=8, tbptt_samples=512, chunks_per_segment=2, warmup_samples=256,
                         max_steps=10, validate_every=10)
    starts: list[int] = []
    forward = neuralfx.model.Model.forward

    def spy(self, x, *args, **kwargs):
        # The warm-up call carries each segment's first samples: find where each lies in the capture.
        if self.training and x.shape[-1] == config.warmup_samples:
            for row in x.detach().cpu().numpy().reshape(x.shape[0], -1):
                hits = [i for i in np.flatnonzero(pair.input == row[0])
                        if np.array_equal(pair.input[i : i + len(row)], row)]
                assert len(hits) == 1
                starts.append(hits[0])
        return forward(self, x, *args, **kwargs)

    monkeypatch.setattr(neuralfx.model.Model, "forward", spy)
    train([Capture(pair)], config, progress=lambda s: None)
    segment = config.warmup_samples + config.tbptt_samples * config.chunks_per_segment
    assert len(starts) == config.max_steps // config.chunks_per_segment * config.batch_size
    stretches = holdout(config).trained(len(pair.input))
    for start in starts:
        assert any(lo <= start and start + segment <= hi for lo, hi in stretches), start
