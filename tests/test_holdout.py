"""Which audio training holds out: a piece of every span, so validation hears all of a capture."""

from __future__ import annotations

import numpy as np
import pedalboard
import pytest

import neuralfx.model
from neuralfx.capture import CapturePair, _signal_parts
from neuralfx.holdout import MIN_VALIDATION_SAMPLES, Holdout, training_span
from neuralfx.training import Capture, TrainConfig, train, training_holdout


@pytest.mark.parametrize("samples", [10_843, 96_001, 576_000, 8_640_007])
@pytest.mark.parametrize("span", [None, 9_000, 48_000])
def test_the_spans_cover_a_capture_once(samples: int, span: int | None) -> None:
    held = Holdout(0.15, span)
    pieces = held.pieces(samples)
    assert len(pieces) == (1 if span is None else max(1, samples // span))
    assert pieces[0][0] == 0 and pieces[-1][2] == samples
    assert all(a[2] == b[0] for a, b in zip(pieces, pieces[1:]))  # no gap, no overlap
    assert all(lo < cut < hi and hi - lo >= min(span or samples, samples) for lo, cut, hi in pieces)
    assert abs(sum(hi - lo for lo, hi in held.held_out(samples)) - 0.15 * samples) <= len(pieces)
    x = np.arange(samples, dtype=np.float32)
    assert held.held_out_audio(x).tolist() == [i for lo, hi in held.held_out(samples) for i in range(lo, hi)]
    if span is None:  # what models trained before the spans held out: a report of one scores the same audio
        assert held.trained(samples) == [(0, int(samples * 0.85))]


@pytest.mark.parametrize("need", [1_280, 9_216, 12_284])
@pytest.mark.parametrize("span_seconds", [None, 0.05, 1.0])
def test_shortest_is_the_shortest_that_holds_a_segment_in_every_span(need: int, span_seconds: float | None) -> None:
    held = Holdout(0.15, training_span(span_seconds, 48000, 0.15, need))
    shortest = held.shortest(100, need)
    assert held.long_enough(shortest, need) and not held.long_enough(shortest - 1, need)
    assert held.shortest(shortest, need) is None
    assert sum(hi - lo for lo, hi in held.held_out(shortest)) >= MIN_VALIDATION_SAMPLES
    assert all(hi - lo >= need for lo, hi in held.trained(shortest))


@pytest.mark.parametrize("fraction", [0.04, 0.15, 0.5])
@pytest.mark.parametrize("rate", [1000, 8000, 48000])
def test_shortest_matches_a_search_one_sample_at_a_time(fraction: float, rate: int) -> None:
    """Long enough is not monotone in the length (one more span shortens them all): from any
    length, the answer is the first longer one that passes."""
    for need in (1, 1280, 9216):
        held = Holdout(fraction, training_span(1.0, rate, fraction, need))
        for samples in (1, held.span - 1, 2 * held.span - 1, 2 * held.span, 7 * held.span + 3):
            expected = samples
            while not held.long_enough(expected, need):
                expected += 1
            assert held.shortest(samples, need) == (None if expected == samples else expected)


def test_shortest_refuses_spans_that_cannot_train() -> None:
    with pytest.raises(ValueError, match="spans of 1000 samples do not both train on 9216 samples"):
        Holdout(0.15, 1000).shortest(100000, 9216)  # searched forever


def test_a_span_is_lengthened_to_hold_a_training_segment() -> None:
    assert training_span(1.0, 48000, 0.15, 9216) == 48000
    span = training_span(0.05, 48000, 0.15, 9216)  # 2400 samples would train on 2040
    assert int(span * 0.85) >= 9216 and int((span - 1) * 0.85) < 9216
    assert training_span(None, 48000, 0.15, 9216) is None


@pytest.mark.parametrize("seconds", [60.0, 180.0])
def test_the_default_holds_out_every_part_of_the_capture_signal(seconds: float) -> None:
    """With the end alone held out, validation heard only the chords; with eight equal spans of
    180 s, only the quietest noise, and a low sweep made 58 % of the held-out energy."""
    rate = 48000
    held = training_holdout(TrainConfig(), rate, 1024)
    parts, start = [], 0
    for name, kind, length, make in _signal_parts(rate, seconds, 0):
        part = make()  # in order: the parts share one random generator
        if kind != "gap":  # each sweep, each noise colour and level, the notes, the chords
            parts.append((name, start, start + length, part))
        start += length
    assert len(parts) == 13
    whole, kept = {}, {}
    for name, lo, hi, part in parts:
        overlap = [(max(lo, a), min(hi, b)) for a, b in held.held_out(int(seconds * rate)) if max(lo, a) < min(hi, b)]
        if name != "alignment clicks":
            assert overlap, f"{name} at {lo / rate:.1f} s has no held-out audio"
        whole[name] = whole.get(name, 0.0) + float(np.sum(np.square(part, dtype=np.float64)))
        kept[name] = kept.get(name, 0.0) + sum(float(np.sum(np.square(part[a - lo : b - lo], dtype=np.float64)))
                                               for a, b in overlap)
    for name in ("sweeps", "noise", "notes", "chords"):  # energy held out in proportion to the signal
        share = (kept[name] / sum(kept.values())) / (whole[name] / sum(whole.values()))
        assert 0.7 < share < 1.3, (name, share)


def test_training_never_trains_on_held_out_audio(monkeypatch) -> None:
    """Each trained stretch is exactly one segment long, so a segment drawn one sample late
    would reach into held-out audio."""
    config = TrainConfig(hidden_size=8, batch_size=8, tbptt_samples=512, chunks_per_segment=2, warmup_samples=256,
                         max_steps=10, validate_every=10, validation_span_seconds=0.001)
    segment = config.warmup_samples + config.tbptt_samples * config.chunks_per_segment
    held = training_holdout(config, 48000, config.warmup_samples)
    assert held.trained(held.span) == [(0, segment)]
    # Noise without silence, so that every segment's first samples occur once in the capture.
    x = (0.2 * np.random.default_rng(1).standard_normal(40 * held.span)).astype(np.float32)
    pair = CapturePair(x, pedalboard.Pedalboard([pedalboard.Distortion(drive_db=12)])(x[None], 48000)[0], 48000)
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
    result = train([Capture(pair)], config, progress=lambda s: None)
    assert result.holdout == held
    assert len(starts) == config.max_steps // config.chunks_per_segment * config.batch_size
    stretches = held.trained(len(x))
    for start in starts:
        assert any(lo <= start and start + segment <= hi for lo, hi in stretches), start


@pytest.mark.parametrize("record", [
    {"fraction": 0.15, "span_samples": 0, "context_samples": 4096},
    {"fraction": 0.15, "span_samples": 48000.5, "context_samples": 4096},
    {"fraction": 0, "span_samples": 48000, "context_samples": 4096},
    {"fraction": 0.15, "span_samples": 48000},
    [0.15, 48000, 4096],
])
def test_a_malformed_validation_record_is_refused(record) -> None:
    with pytest.raises(ValueError, match="metadata.validation is malformed"):
        Holdout.of_model({"validation": record}, 48000)
    # Files without the record: their config's fraction, checked too (1.5 held out from before the start).
    for fraction in (1.5, -0.2, None, "0.15"):
        with pytest.raises(ValueError, match="metadata.config.validation_fraction is malformed"):
            Holdout.of_model({"config": {"validation_fraction": fraction}}, 48000)


def test_a_model_file_says_what_was_held_out() -> None:
    record = {"fraction": 0.2, "span_samples": 44100, "context_samples": 8000}
    held = Holdout.of_model({"validation": record}, 44100)
    assert held == Holdout(0.2, 44100, 8000, 44100) and held.to_json() == record
    assert held.describe() == "the last 20% of every 1 s"
    # Models trained before the record held out each capture's end (config's fraction, or 15 %).
    assert Holdout.of_model({"config": {"validation_fraction": 0.1}}, 48000).describe() == "the last 10%"
    assert Holdout.of_model({}, 48000) == Holdout(0.15, None, 4096, 48000)
