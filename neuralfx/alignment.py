"""Latency and polarity of a device under test, from its input and its recorded output.

The delay is the lag of the generalized cross-correlation with the input's spectrum whitened
(Knapp & Carter, "The generalized correlation method for estimation of time delay", IEEE Trans.
ASSP 1976; the Roth processor): dividing by the input's power spectrum turns the correlation into
an estimate of the device's impulse response, a sharp peak whatever the spectrum of the signal
(music, noise or the capture signal's clicks). The pair is correlated whole (its first
`WHOLE_PAIR_SECONDS`). The capture signal's clicks alone are not enough: a saturating device
answers a loud click with a short spike and a long tail of the opposite sign (its input
high-pass's undershoot, driven into clipping), so on the clicks alone the high_gain_amp recipe's
device (a 150 Hz high-pass into 31-40 dB of drive) read as inverted, at gain 31 also 3 samples
late. Over the whole capture it reads as it plays: in phase, no latency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

DEFAULT_MAX_LATENCY_SECONDS = 1.0
# Regularizes the whitening where the input has little energy, relative to its mean power;
# 1e-3 gave exact integer delays on the capture signal and on plucked notes through distortion,
# compression and Pedalboard's Delay (larger values smear the peak by a sample or two).
WHITENING = 1e-3
# The latency is the onset of the impulse response, not its peak: walking back from the peak,
# the earliest lag of the peak's sign whose magnitude reaches this fraction of it. A filter's own
# delay (the peak of a low-pass response lies a sample or two after its onset) stays in the
# target for the model to learn: shifting past the onset would ask a causal model to predict the
# future. (0.05 took a distortion into a 6 kHz low-pass 1 sample early, on a +0.066 ripple.)
ONSET_FRACTION = 0.1
# A saturating device behind a filter answers the (non-Gaussian) capture signal with an estimate
# that has a lobe of the other sign just before its onset: tanh(4 lowpass_1500(x)) 144 samples
# late estimated -0.17, -0.24, -0.32, -0.23, +0.14, +0.55 .. 1.0 at lags 140 .. 149 (the filter's
# own first sample is 0.095 of its peak). When that lobe reaches ONSET_FRACTION of the peak within
# this many lags of the onset, the onset moves onto the lobe's last lag, the floor of the zero
# crossing. Walked through by magnitude (until 2026-12-02) it read 140, 4 early, and 0 with no
# delay: the reading depended on the latency, and a model trained on it scored 2.6x the ESR (a
# review). A lobe's size, not its last lag's, decides: Pedalboard's ladder band-pass estimates a
# flat +0.06..0.076 ramp before its -0.18 onset, which a 5 % test of the last lag took for a lobe
# (144 read 143). Left: a lowpass_1500 into 30 dB of tanh reads 1 late on the capture signal (its
# lobe ends at -0.08 where the response starts), and both tanh devices 1 late on noise and a sine.
PRE_LOBE_SPAN = 8
# The strongest peak further than `PEAK_EXCLUSION_SECONDS` from the main one, relative to it,
# above which the delay is ambiguous (unrelated files, or a device that is mostly echo). Measured
# on devices that align fine (Pedalboard's amps, effects and codecs on the capture signal): at most 0.31
# (a reverb 80% wet); a delay with 50% feedback reaches 0.67 and is refused.
AMBIGUITY_LIMIT = 0.5
PEAK_EXCLUSION_SECONDS = 0.0025
# A resonant device (a narrow band-pass, a wah) rings: its response's lobes stay above half its
# peak further than the exclusion (4th-order band-passes 100 Hz wide or narrower: 0.71-0.94), and
# such a pair is refused as ambiguous too, for an echo inside the ring cannot be told from it: a
# review found a 750-850 Hz band-pass into a 5 ms delay at mix 0.6, accepted when lobes inside
# the ring were left out of the ambiguity, read 21 samples late and inverted. The refusal says
# which it is where nothing stands apart from the response: the lags around the peak where the
# estimate's envelope (the magnitude of its analytic signal) stays above
# RESPONSE_ENVELOPE_FRACTION of the peak hold every lag above the limit (an echo after a dip, as a
# delay's at mix 0.5, lies outside them). The lags before the response count too: leaving out
# negative lags, where an exponential sweep's harmonic products lie (a band-pass into tanh reads
# 0.52 at -1.38 s on the 180 s capture signal, so it is refused), let a delay whose echo is louder
# than its dry sound be read at the echo when the target was trimmed by a sample (a review).
RESPONSE_ENVELOPE_FRACTION = 0.25
# A band-pass's response grows through lobes of alternating sign, and its largest lobe comes late:
# the whole pair's reading, from the largest lobe back to its start, read a 4th-order 700-900 Hz
# band-pass 77 samples late and inverted, a 400-800 Hz 6th-order 64 late. Walked back lobe by lobe
# (as on the noise) a linear band-pass reads at its onset on the capture signal and on plucked
# notes; but on the capture signal's clicks and sweeps a distorting device's estimate holds lobes
# before its onset that are not its response (the walk read tanh(4 lowpass_500) 13 early and a
# band-pass into tanh 55 early), and so does a linear device's wherever the input lacks energy:
# there the whitening smooths the response with a kernel of zero phase, whose side lobes before
# the peak reached 11 % of it for a guitar DI rolling off from 5 kHz, and a linear-phase FIR's
# pre-ringing too (a review: read a few samples early and inverted, or as a target that leads).
# So the walk stands only where it goes back more than RINGING_SECONDS (those lobes reach a few
# samples; the rise of a 700-900 Hz 4th-order and a 400-800 Hz 6th-order band-pass 57-75 samples
# at 48 kHz, but many band-passes' 5-45: a review found 4th- and 6th-order ones from 150 to 4000
# Hz read 5-40 samples late and inverted again, as before the walk, unless on the capture
# signal's noise), over lobes that do not mirror those after the peak (MIRROR_TOLERANCE), not
# into negative lags from a later peak, and where the device is linear on this pair:
# its estimate, as a filter (lags where the envelope reaches LINEAR_ENVELOPE_FRACTION of the peak,
# at most LINEAR_REACH_SECONDS from it), predicts the target to within LINEAR_RESIDUAL of its
# energy, 30 dB (filters and band-passes on the 12 s capture signal: 4e-7 to 6e-6; on plucked
# notes 7e-5 to 6e-4 and 1.2e-2 for a 100-150 Hz band-pass; distorting devices 0.025 to 0.7 on the
# capture signal, a band-pass into a gentle tanh 6e-4 on plucked notes; a DC offset or hiss within
# 30 dB of the target fails it). Elsewhere the whole pair's reading stands: refusing distorting
# devices whose walk went back further (band-passes into tanh on a 12 s capture, read 63-77
# samples late) also refused a hard clip into a reverb at 96 kHz (a review), read right.
LINEAR_ENVELOPE_FRACTION = 1e-3
LINEAR_REACH_SECONDS = 0.2
LINEAR_RESIDUAL = 1e-3
RINGING_SECONDS = 0.001
# A response symmetric about its peak is no band-pass's rise: a linear-phase FIR's pre-ringing (a
# 1001-tap low-pass at 300 Hz: 141 samples of lobes before its peak, read inverted on its first
# side lobe when walked; a review) or the whitening's kernel. Where the energy of the lobes the
# walk would cross is that of as many lags after the peak within MIRROR_TOLERANCE (those two: 1.000;
# 4th- and 6th-order band-passes 0.88-1.64, the closest 1.038), the whole pair's reading stands.
MIRROR_TOLERANCE = 0.02
WHOLE_PAIR_SECONDS = 60.0
# Where the input is the capture signal, the onset and polarity are read again on its parts of
# white Gaussian noise alone. On Gaussian noise of one spectrum the estimate of a device made of
# filters and one memoryless nonlinearity, in any order, is a scaled copy of its filters
# (Bussgang's theorem): causal, with no lobe before the onset (with two drive stages, lobes of
# 0.4 % of the peak on long noise: a review's measurement). On the whole pair the statistics of
# music, sweeps and clicks add such lobes to a distorting device's estimate and move its largest
# lobe: tanh(30 lowpass_500(x)) read 5-7 samples early and inverted, a 4th-order lowpass_800 into
# a hard clip 14 late; and a linear 4th-order band-pass, whose lobes grow for 90 samples
# (700-900 Hz), read 77 late and inverted from its largest lobe (the walk of LINEAR_RESIDUAL now
# reads it there). On the white noise of a 60 s capture (3.6 s of it) they read 1 late in phase,
# 7 late (the low-pass's own rise to ONSET_FRACTION, as without the clip) and 2 late, at
# latencies 0, 5 and 144. The onset a band-pass
# is read at matters: an LSTM-16 trained 1500 steps on a 30 s capture of a 4th-order 500-1500 Hz
# band-pass scored validation ESR 0.10 aligned at the noise's reading (1 late), 0.32 at the whole
# pair's (13 late; 31 % of the filter's energy lies before it). The whole noise section, white and
# pink noise at three levels, read the fuzz 2-9 early: each level and spectrum scales the filters
# by its own factor, and their sum is no longer causal.
# The second reading looks within NOISE_WINDOW_SECONDS of the first. It needs parts of noise
# NOISE_PARTS_PER_WINDOW windows long at the least (a capture of 20 s or more): a 12 s capture's
# 600-sample parts are shorter than the window, the estimate's floor far from the response then
# understates the noise near it, and a two-stage amp read 22 early at one latency and exact at
# another. It is kept where the floor (the estimate's RMS over the window's first quarter, before
# any response) times NOISE_FLOOR_MARGIN stays under ONSET_FRACTION of its peak, else the whole
# pair's reading stands. The walk back may reach negative lags: a target trimmed by 2 samples
# reads as leading (and is refused), not as 0.
NOISE_WINDOW_SECONDS = 0.02
NOISE_PARTS_PER_WINDOW = 4
NOISE_FLOOR_MARGIN = 4.0


class AlignmentError(ValueError):
    """The input/target pair cannot be aligned; the message says why and what to do."""


@dataclass(frozen=True)
class Alignment:
    latency: int  # samples by which the target lags the input
    inverted: bool  # the device (or the recording chain) inverts polarity
    ambiguity: float  # second-highest correlation peak relative to the highest
    sample_rate: float

    @property
    def latency_ms(self) -> float:
        return 1000.0 * self.latency / self.sample_rate

    def describe(self) -> str:
        polarity = "inverted" if self.inverted else "normal"
        return f"latency {self.latency} samples ({self.latency_ms:.2f} ms), polarity {polarity}"

    def to_json(self) -> dict:
        return {"latency_samples": self.latency, "latency_ms": round(self.latency_ms, 3),
                "polarity": "inverted" if self.inverted else "normal"}


def impulse_response(x: np.ndarray, y: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """The whitened cross-correlation of y against x at `lags` (samples, y later than x for
    positive ones): an estimate of the response of the device that made y from x."""
    n = len(x) + len(y)
    nfft = 1 << (n - 1).bit_length()  # no circular wrap-around between the lags searched
    spectrum_x = np.fft.rfft(x.astype(np.float64), nfft)
    spectrum_y = np.fft.rfft(y.astype(np.float64), nfft)
    power = np.abs(spectrum_x) ** 2
    c = np.fft.irfft(spectrum_y * np.conj(spectrum_x) / (power + WHITENING * np.mean(power)), nfft)
    return c[lags]  # negative lags index from the end: the target leading the input


class _Correlation(NamedTuple):
    lags: np.ndarray
    c: np.ndarray  # the estimate at lags
    peak: int  # index of its peak
    ambiguity: float  # the strongest lag further than the exclusion from the peak, relative to it
    ringing: tuple[int, int] | None  # the response's lags where it rings (see RESPONSE_ENVELOPE_FRACTION)


def _correlate(x: np.ndarray, y: np.ndarray, search: int, wide: int, exclusion: int) -> _Correlation:
    """The estimate over lags -wide..wide. The peak and the ambiguity are those within
    -search..search, unless a peak beyond is more than 1 / AMBIGUITY_LIMIT times stronger: the
    device's response then lies outside the lags searched, and that peak is returned (a latency
    above the maximum, or a target that leads)."""
    wide = min(wide, len(x) - 1, len(y) - 1)
    search = min(search, wide)
    lags = np.arange(-wide, wide + 1)
    c = impulse_response(x, y, lags)
    magnitude = np.abs(c)
    inside = np.abs(lags) <= search
    peak = int(np.argmax(np.where(inside, magnitude, -1.0)))
    strongest = int(np.argmax(magnitude))
    if magnitude[peak] < AMBIGUITY_LIMIT * magnitude[strongest]:
        peak = strongest
    if not magnitude[peak] > 0:
        return _Correlation(lags, c, peak, 1.0, None)
    # No lag searched lies beyond the exclusion (a maximum of about 1 ms): no second peak to find.
    far = inside & (np.abs(lags - lags[peak]) > exclusion)
    ambiguity = float(np.max(magnitude[far]) / magnitude[peak]) if far.any() else 0.0
    if ambiguity <= AMBIGUITY_LIMIT:
        return _Correlation(lags, c, peak, ambiguity, None)
    # Imported on first use: scipy.signal takes over a second to import, and every CLI command
    # imports this module (for DEFAULT_MAX_LATENCY_SECONDS).
    from scipy.signal import hilbert

    first, last = _span(np.abs(hilbert(c)), peak, RESPONSE_ENVELOPE_FRACTION * magnitude[peak], len(c))
    far[first:last + 1] = False
    apart = float(np.max(magnitude[far]) / magnitude[peak]) if far.any() else 0.0
    ringing = (int(lags[first]), int(lags[last])) if apart <= AMBIGUITY_LIMIT else None
    return _Correlation(lags, c, peak, ambiguity, ringing)


def _span(envelope: np.ndarray, peak: int, level: float, reach: int) -> tuple[int, int]:
    """The first and last index of the run around `peak` where the envelope stays at `level` or
    above, at most `reach` indices on either side."""
    first, last = peak, peak
    while first > max(peak - reach, 0) and envelope[first - 1] >= level:
        first -= 1
    while last < min(peak + reach, len(envelope) - 1) and envelope[last + 1] >= level:
        last += 1
    return first, last


def _mirrored(c: np.ndarray, peak: int, first: int) -> bool:
    """Whether the estimate's lobes from `first` to the peak mirror those after it (see
    MIRROR_TOLERANCE)."""
    span = peak - first
    before, after = np.sum(c[first:peak] ** 2), np.sum(c[peak + 1:peak + 1 + span] ** 2)
    return bool(abs(before - after) < MIRROR_TOLERANCE * after)


def _is_linear(x: np.ndarray, y: np.ndarray, corr: _Correlation, sample_rate: float) -> bool:
    """Whether the estimate's response, as a filter, predicts the target from the input to within
    LINEAR_RESIDUAL of its energy (see LINEAR_RESIDUAL)."""
    from scipy.signal import fftconvolve, hilbert  # on first use, as in _correlate

    first, last = _span(np.abs(hilbert(corr.c)), corr.peak, LINEAR_ENVELOPE_FRACTION * abs(corr.c[corr.peak]),
                        int(LINEAR_REACH_SECONDS * sample_rate))
    start = int(corr.lags[first])
    predicted = fftconvolve(x.astype(np.float64), corr.c[first:last + 1])
    predicted = (np.concatenate([np.zeros(start), predicted]) if start >= 0 else predicted[-start:])[:len(y)]
    predicted = np.pad(predicted, (0, len(y) - len(predicted)))
    target = y.astype(np.float64)
    return bool(np.sum((target - predicted) ** 2) < LINEAR_RESIDUAL * np.sum(target ** 2))


# A delay pedal's echo, as strong as its direct sound or stronger, reads as an ambiguity or as
# the latency: a model with a Delay block is trained on the pair's own timing instead.
UNALIGNED_DELAY_HINT = ("A delay or echo device's repeats peak too: train a model with a Delay block on the pair's own "
                        "timing (train: align=False, --no-align; fit: without --align)")


def _walk_back(c: np.ndarray, peak: int, strong: float, lowest: int = 0) -> int:
    """The onset of a response that may oscillate: from the peak's lobe back lobe by lobe (a
    band-pass's lobes alternate in sign) while a lobe reaches `strong`, the earliest index reaching
    it in the last such lobe, not before index `lowest`."""
    def lobe_start(i: int) -> int:  # the first index of the run of c's sign that holds index i
        while i > 0 and np.sign(c[i - 1]) == np.sign(c[i]):
            i -= 1
        return i

    first = max(lobe_start(peak), lowest)
    onset = first + int(np.flatnonzero(np.abs(c[first:peak + 1]) >= strong)[0])
    while first > lowest:
        before = max(lobe_start(first - 1), lowest)
        reaching = np.flatnonzero(np.abs(c[before:first]) >= strong)
        if len(reaching) == 0:
            break
        first, onset = before, before + int(reaching[0])
    return onset


def _read_on_noise(input: np.ndarray, target: np.ndarray, noise: list[tuple[int, int]], around: int,
                   sample_rate: float) -> tuple[int, bool] | None:
    """(onset lag, inverted) from the estimate on the noise parts within NOISE_WINDOW_SECONDS of
    lag `around`, or None where it cannot be read (see NOISE_WINDOW_SECONDS)."""
    w = int(NOISE_WINDOW_SECONDS * sample_rate)
    base, end = noise[0][0], noise[-1][1]
    if min(hi - lo for lo, hi in noise) < NOISE_PARTS_PER_WINDOW * w or base + around - w < 0:
        return None
    # The input's noise parts alone, and the target where each part's response lies (lags
    # around - w .. around + w), zero elsewhere: there it answers other signals. y starts
    # around - w samples after x, so the window's lags are 0 .. 2w.
    x = np.zeros(end - base)
    y = np.zeros(end - base + 2 * w)
    for lo, hi in noise:
        first, last = lo + around - w, min(hi + around + w, len(target))
        y[lo - base:lo - base + max(last - first, 0)] = target[first:last]
        x[lo - base:hi - base] = input[lo:hi]
    lags = np.arange(around - w, around + w + 1)
    c = impulse_response(x, y, lags - (around - w))
    peak = int(np.argmax(np.abs(c)))
    strong = ONSET_FRACTION * np.abs(c[peak])
    floor = np.sqrt(np.mean(c[: w // 2] ** 2))
    if not NOISE_FLOOR_MARGIN * floor < strong:
        return None
    # Before the response the estimate is its floor, whose lobes stay below `strong`. The polarity
    # is the sign at the onset (a band-pass's largest lobe is a later one, of either sign with its Q).
    onset = _walk_back(c, peak, strong)
    return int(lags[onset]), bool(c[onset] < 0)


def detect(input: np.ndarray, target: np.ndarray, sample_rate: float,
           max_latency_seconds: float = DEFAULT_MAX_LATENCY_SECONDS,
           noise: list[tuple[int, int]] | None = None) -> Alignment:
    """The target's latency (whole samples) and polarity relative to the input; AlignmentError
    when the correlation is ambiguous, the target leads the input, or the latency exceeds
    `max_latency_seconds`. noise: (first sample, end) of each part of white Gaussian noise in the
    input (capture.white_noise_parts), where the input is the capture signal: the onset and
    polarity are then read on them (see NOISE_WINDOW_SECONDS)."""
    if not max_latency_seconds > 0:
        raise ValueError(f"max_latency_seconds must be > 0, got {max_latency_seconds}")
    max_lag = int(round(max_latency_seconds * sample_rate))
    # Twice the maximum is searched so that a latency beyond it is reported as such, not as noise.
    # Twice the default's lags are correlated too, for a response far beyond a small maximum: with
    # --max-latency 0.001 a device 5 ms late read 0.92 ms off a side lobe and trained misaligned.
    # Only peaks within the search count against the ambiguity: a delay pedal's echoes further out
    # are its sound, not another alignment.
    search = 2 * max_lag
    wide = max(search, 2 * int(round(DEFAULT_MAX_LATENCY_SECONDS * sample_rate)))
    exclusion = int(PEAK_EXCLUSION_SECONDS * sample_rate)
    length = int(WHOLE_PAIR_SECONDS * sample_rate) + wide
    corr = _correlate(input[:length], target[:length], search, wide, exclusion)
    lags, c, peak, ambiguity = corr.lags, corr.c, corr.peak, corr.ambiguity
    if not np.abs(c[peak]) > 0:
        raise AlignmentError("input and target do not correlate at all: check that the target is the device's "
                             "response to this input")
    if corr.ringing is not None:
        first, last = corr.ringing
        raise AlignmentError(
            f"cannot align target to input: the device's response rings for {1000 * (last - first) / sample_rate:.0f} "
            f"ms (lags {first}..{last}), with lobes at {ambiguity:.0%} of its peak more than "
            f"{1000 * exclusion / sample_rate:g} ms from it (at most {AMBIGUITY_LIMIT:.0%} allowed), as a narrow "
            "band-pass, a wah or a resonant filter's does, or it holds an echo inside that time: the two cannot be "
            "told apart, so no latency is read. If input and target are aligned as they are, train on their own "
            "timing (align=False, --no-align). " + UNALIGNED_DELAY_HINT)
    if ambiguity > AMBIGUITY_LIMIT:
        raise AlignmentError(
            f"cannot align target to input: the cross-correlation has no clear peak (second peak at "
            f"{ambiguity:.0%} of the highest, at most {AMBIGUITY_LIMIT:.0%} allowed). Check that the target is "
            f"this input through the device (same take, same file order), or that the device's latency is "
            f"below {max_latency_seconds:g} s (raise max_latency_seconds / --max-latency if it is not). "
            + UNALIGNED_DELAY_HINT)
    # Back to the earliest strong lag; into negative lags only from a negative peak (a target that
    # leads was called 299 samples ahead where 300 were cut).
    def searchable(i: int) -> bool:
        return i >= 0 and (lags[i] >= 0 or lags[peak] < 0)

    onset = peak
    sign = np.sign(c[peak])
    strong = ONSET_FRACTION * np.abs(c[peak])
    while searchable(onset - 1) and sign * c[onset - 1] >= strong:
        onset -= 1
    # A lobe of the other sign just before, reaching `strong` within PRE_LOBE_SPAN lags (see
    # PRE_LOBE_SPAN): the onset is its last lag. The lobe may reach into negative lags (a device
    # with no latency); the onset does not.
    if searchable(onset - 1) and -sign * c[onset - 1] > 0:
        lobe = onset - 1
        while lobe >= 0 and onset - lobe <= PRE_LOBE_SPAN and -sign * c[lobe] > 0 and -sign * c[lobe] < strong:
            lobe -= 1
        if lobe >= 0 and onset - lobe <= PRE_LOBE_SPAN and -sign * c[lobe] >= strong:
            onset -= 1
    latency, inverted = int(lags[onset]), bool(c[peak] < 0)
    # Also a reading a little negative: distortion after a band-pass read 3 samples ahead on the
    # whole pair, 0 on the noise.
    on_noise = None
    if noise is not None and latency > -int(NOISE_WINDOW_SECONDS * sample_rate):
        on_noise = _read_on_noise(input, target, noise, latency, sample_rate)
    if on_noise is not None:
        latency, inverted = on_noise
    else:
        # See LINEAR_RESIDUAL; not into negative lags from a peak at a later one, as the reading above.
        walked = _walk_back(c, peak, strong, lowest=0 if lags[peak] < 0 else int(np.searchsorted(lags, 0)))
        if (lags[onset] - lags[walked] > int(RINGING_SECONDS * sample_rate) and not _mirrored(c, peak, walked)
                and _is_linear(input[:length], target[:length], corr, sample_rate)):
            latency, inverted = int(lags[walked]), bool(c[walked] < 0)
    if latency < 0:
        raise AlignmentError(
            f"the target leads the input by {-latency} samples ({-1000 * latency / sample_rate:.1f} ms): the files "
            "are misaligned (target trimmed at the start, or input and target swapped); re-export them from one "
            "start point. A device whose output holds no trace of its input's waveform (an octave-up fuzz, a ring "
            "modulator) gives no peak to align on: if the files are aligned, train on their own timing "
            "(align=False, --no-align)")
    if latency > max_lag:
        raise AlignmentError(
            f"the device's latency is {latency} samples ({latency / sample_rate:.3f} s; lags up to "
            f"{wide / sample_rate:g} s correlated), above the maximum of {max_latency_seconds:g} s: if that is right, "
            "raise max_latency_seconds (--max-latency); otherwise the files are misaligned. " + UNALIGNED_DELAY_HINT)
    return Alignment(latency, inverted, ambiguity, float(sample_rate))


def remove_latency(input: np.ndarray, target: np.ndarray, latency: int) -> tuple[np.ndarray, np.ndarray]:
    """Input and target with the target moved `latency` samples earlier, cut to their common length."""
    shifted = target[latency:]
    n = min(len(input), len(shifted))
    return input[:n].copy(), shifted[:n].copy()
