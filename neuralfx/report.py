"""`neuralfx report MODEL`: plots and a short summary of how well a model file matches its target.

The prediction is the model file running in the C++ kernel (neuralfx.load), i.e. what ships.
The audio comes from a given (input, target) pair, or, for models built by
training/build_presets.py, from the captures remade from the model's metadata ("capture":
capture signal seed and the Pedalboard device at each trained setting), scored on the held-out
audio that training validated on (metadata.validation); at a knob setting it was not trained on
(--knob), on a whole capture of the signal training scored held-out settings with, the device
set from the metadata's knob controls. Metrics: ESR as auraloss defines it (Wright and
Välimäki, ICASSP 2020) and the multi-resolution STFT distance, the same functions training
reports.

Writes into the output folder:
    loss_curves.png        training loss and validation ESR per validation (when the file has them)
    waveform.png           target and prediction over the whole audio and zoomed on a transient
    error_spectrogram.png  target, prediction and error spectrograms on one dB scale
    esr_per_segment.png    ESR per segment with the signal level
    summary.txt            the numbers"""

from __future__ import annotations

import json
import math
import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch

from .capture import CapturePair, signal_sections
from .losses import esr, stft_distance

# Segments quieter than this carry too little signal for their ESR to mean anything (the
# ratio then measures the noise floor): drawn, but never called the worst.
QUIET_DB = -50.0
# Where a long title wraps: "a setting never trained on (...): a whole capture ..." ran off the
# 11-inch figures.
TITLE_CHARACTERS = 130
# Length of the zoomed waveform window, seconds, and how much of it precedes the transient.
ZOOM_SECONDS, ZOOM_LEAD_SECONDS = 0.04, 0.008
MISSING_MATPLOTLIB = "neuralfx report needs matplotlib: pip install 'neuralfx[report]' (or pip install matplotlib)"
PLOTS = ("loss_curves.png", "waveform.png", "error_spectrogram.png", "esr_per_segment.png")


# ---- how to remake the captures a model was trained on (written by training/build_presets.py) ----
def capture_recipe(sample_rate: float, seconds: float, seed: int, devices: Sequence[tuple[dict[str, float], list[dict]]],
                   device: Optional[list[dict]] = None, controls: Optional[list[dict]] = None) -> dict[str, Any]:
    """Model-file metadata that says how to remake the training captures: the capture signal's
    arguments and, per trained knob setting, the device as chain-preset stages
    (`[{"plugin": "Distortion", "params": {...}}, ...]`), and which capture signal it was; with
    the device's stages and which parameter each knob sets (sweep.controls_of), also how to
    capture it at settings never trained on."""
    from .capture import SIGNAL_VERSION

    recipe = {"signal_version": SIGNAL_VERSION, "sample_rate": float(sample_rate), "seconds": float(seconds),
              "seed": int(seed), "devices": [{"settings": dict(settings), "stages": stages} for settings, stages in devices]}
    if device is not None and controls is not None:
        recipe.update(device=device, controls=controls)
    return recipe


def captures_from_recipe(recipe: dict[str, Any], untrained: Optional[dict[str, float]] = None) -> list:
    """The captures described by `capture_recipe`, remade: same signal, same device, same audio.
    untrained: instead, one capture at these settings (every knob), of the signal training scores
    held-out settings with, the device set through the recipe's controls."""
    import pedalboard

    from .capture import SIGNAL_VERSION, capture
    from .chain import _stage_from_json
    from .sweep import heldout_signal_args, stages_controlled
    from .training import Capture

    try:
        rate, seconds, seed = float(recipe["sample_rate"]), float(recipe["seconds"]), int(recipe["seed"])
        devices = [(dict(d["settings"]), list(d["stages"])) for d in recipe["devices"]]
        version = int(recipe.get("signal_version", 1))  # files written before it was recorded: 1
        if untrained is not None:
            if "controls" not in recipe:
                raise ValueError("the model's metadata says how to capture its trained settings only (it was built "
                                 "before the metadata kept the knob controls): pass --input and --target recorded at "
                                 "that setting, or retrain it")
            devices = [(dict(untrained), stages_controlled(list(recipe["device"]), recipe["controls"], untrained))]
            seconds, seed = heldout_signal_args(seconds, seed)
    except (KeyError, TypeError, IndexError) as e:
        raise ValueError(f"metadata.capture is malformed ({e!r}): pass --input and --target instead") from None
    if version != SIGNAL_VERSION:
        raise ValueError(f"the model was trained on version {version} of the capture signal and this neuralfx makes "
                         f"version {SIGNAL_VERSION}, so its training audio cannot be remade: pass --input and --target "
                         "(the pair it was trained on), or retrain it")
    return [Capture(capture(pedalboard.Pedalboard([_stage_from_json(s, i, Path(".")) for i, s in enumerate(stages)]),
                            rate, seconds, seed), settings)
            for settings, stages in devices]


# ---- the audio the report is about ----
@dataclass
class Evaluation:
    """Prediction and target, mono float32 at the model's rate; `parts` are (label, first
    sample) of each capture's audio in the concatenation (one part for a given pair)."""

    prediction: np.ndarray
    target: np.ndarray
    sample_rate: float
    source: str
    parts: list[tuple[str, int]] = field(default_factory=list)
    latency_samples: int = 0  # what the kernel reports for the model
    # The device latency alignment removed from each scored capture before scoring, in ms (as
    # training removed it); None for a model trained on its captures' own timing.
    removed_latency_ms: list[Optional[float]] = field(default_factory=list)
    # How many scored captures had a target inverted relative to their input, and what the
    # model's training did with such a target (its config's polarity: flip, keep or error).
    inverted_targets: int = 0
    training_polarity: str = "error"
    # (section name, first sample, end) in the concatenation, where the audio is the standard
    # capture signal remade from the metadata (capture.signal_sections)
    sections: list[tuple[str, int, int]] = field(default_factory=list)
    # (first sample in the concatenation, part index, first sample in that capture) of each scored
    # piece: held-out pieces are joined, so a position in the concatenation is not a capture time.
    pieces: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def joined(self) -> bool:
        """Whether the evaluation audio joins pieces (held-out ones, or several captures)."""
        return len(self.pieces) > 1

    def capture_time(self, sample: int) -> str:
        """Where a sample of the concatenation lies in its capture ("capture 1 (drive=6) 12.85 s"),
        or its time alone where the audio is one whole capture."""
        if not self.joined:
            return f"{sample / self.sample_rate:.2f} s"
        start, part, first = next(p for p in reversed(self.pieces) if p[0] <= sample)
        seconds = f"{(sample - start + first) / self.sample_rate:.2f} s"
        if len(self.parts) == 1:
            return seconds
        label = self.parts[part][0]
        return f"capture {part}{f' ({label})' if label != 'no knobs' else ''} {seconds}"

    @property
    def error(self) -> np.ndarray:
        return self.target - self.prediction


def _settings_text(settings: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in settings.items()) or "no knobs"


def _channel_count(path: str | os.PathLike) -> int:
    from .audio import open_input

    with open_input(path) as f:
        return f.num_channels


def evaluate(model_path: str | os.PathLike, input_path: Optional[str | os.PathLike] = None,
             target_path: Optional[str | os.PathLike] = None, knobs: Optional[dict[str, float]] = None,
             whole: bool = False, channels: tuple[Optional[int], Optional[int]] = (None, None)) -> Evaluation:
    """Runs the model file in the kernel on the given pair (all of it, knobs as given, else
    defaults), or on the held-out audio of the captures its metadata describes (only those whose
    settings match `knobs`, when given), or with `whole` on all of those captures (the part
    trained on too), to score every section of the capture signal."""
    from . import load
    from .alignment import DEFAULT_MAX_LATENCY_SECONDS
    from .datacheck import check_unaligned, prepare
    from .sweep import heldout_signal_args
    from .holdout import Holdout
    from .training import WHOLE, Capture, heldout_predictions

    knobs = dict(knobs or {})
    effect = load(model_path)
    config = effect.metadata.get("config", {})

    removed: list[Optional[float]] = []
    inverted: list[bool] = []

    def aligned(pair: CapturePair) -> CapturePair:
        # As training aligned it (latency removed; an inverted target flipped back where training
        # flipped it), so that the model is compared with what it learnt. A model trained on its
        # captures' own timing (a delay pedal, whose echo alignment takes for latency) is scored so.
        if config.get("align") is False:
            removed.append(None)
            return check_unaligned(pair, allow_clipping=True)
        polarity = "flip" if config.get("polarity") == "flip" else "keep"
        max_latency = float(config.get("max_latency_seconds", DEFAULT_MAX_LATENCY_SECONDS))
        pair, found = prepare(pair, max_latency, polarity, allow_clipping=True)
        removed.append(found.latency_ms)
        inverted.append(found.inverted)
        return pair

    for name, value in knobs.items():
        effect.set_knob(name, value)  # checks name and range before any audio work
    if input_path is None and channels != (None, None):
        raise ValueError("--input-channel and --target-channel choose channels of the --input/--target pair: give it")
    if (input_path is None) != (target_path is None):
        raise ValueError("--input and --target go together: give both files or neither")
    if whole and input_path is not None:
        raise ValueError("--whole scores the training captures remade from the metadata; a given pair is scored whole "
                         "already: leave out --whole or --input/--target")
    signal_seconds: Optional[float] = None  # of the remade captures' capture signal
    # A re-amp file's channels, as train or fit --input-channel/--target-channel chose them, for
    # each option not given, where the file has that channel (another pair's mono files take
    # their one channel).
    recorded = effect.metadata.get("channels")
    as_trained = False
    if input_path is not None and isinstance(recorded, dict):
        chosen = list(channels)
        for i, (end, path) in enumerate((("input", input_path), ("target", target_path))):
            if chosen[i] is None and isinstance(recorded.get(end), int) and recorded[end] <= _channel_count(path):
                chosen[i], as_trained = recorded[end], True
        channels = (chosen[0], chosen[1])
    if input_path is not None:
        pair = CapturePair.load(input_path, target_path, input_channel=channels[0], target_channel=channels[1])
        if pair.sample_rate != effect.sample_rate:
            raise ValueError(f"the pair is {pair.sample_rate:g} Hz but the model runs at {effect.sample_rate:g} Hz: "
                             f"resample both files to {effect.sample_rate:g} Hz")
        pair = aligned(pair)
        settings = {k.name: effect.get_knob(k.name) for k in effect.knobs}
        captures, held = [Capture(pair, settings)], WHOLE
        named = (f", channels {channels[0] or 1} -> {channels[1] or 1}" + (" as the model was trained" if as_trained else "")
                 if channels != (None, None) else "")
        source = f"{Path(input_path).name} -> {Path(target_path).name} (whole files{named}, {_settings_text(settings)})"
    else:
        meta = effect.metadata
        if "capture" not in meta:
            raise ValueError(f"'{model_path}' does not say how its training audio was made (no metadata.capture): "
                             "pass --input IN.wav --target TARGET.wav, a pair recorded through the device")
        recipe = dict(meta["capture"])
        recipe["devices"] = [d for d in recipe.get("devices", []) if isinstance(d, dict)
                             and all(math.isclose(d.get("settings", {}).get(k, math.nan), v) for k, v in knobs.items())]
        if recipe["devices"]:
            captures = [Capture(aligned(c.pair), c.settings) for c in captures_from_recipe(recipe)]
            signal_seconds = float(recipe["seconds"])
            trained = Holdout.of_model(meta, effect.sample_rate)
            held = WHOLE if whole else trained
            source = ((f"the whole training captures (all but {trained.describe()} trained on)" if whole else
                       f"held-out audio of the training captures ({trained.describe()} of each)")
                      + f", remade from the model's metadata (capture seed {meta['capture']['seed']})")
        else:  # a setting never trained on: scored as training scores held-out settings
            settings = {k.name: effect.get_knob(k.name) for k in effect.knobs}
            try:
                remade = captures_from_recipe(recipe, untrained=settings)
            except ValueError as e:
                trained = "; ".join(_settings_text(d.get("settings", {})) for d in meta["capture"].get("devices", []))
                raise ValueError(f"--knob {_settings_text(knobs)} is not a trained setting (trained: {trained}), "
                                 f"and {e}") from None
            captures, held = [Capture(aligned(c.pair), c.settings) for c in remade], WHOLE
            signal_seconds = heldout_signal_args(float(recipe["seconds"]), int(recipe["seed"]))[0]
            source = (f"a setting never trained on ({_settings_text(settings)}): a whole capture of the signal "
                      "training scores held-out settings with, remade from the model's metadata")
    results = heldout_predictions(effect, captures, held)
    parts, sections, pieces, start = [], [], [], 0
    layout = signal_sections(effect.sample_rate, signal_seconds) if signal_seconds else []
    for i, (c, (p, _)) in enumerate(zip(captures, results)):
        parts.append((_settings_text(c.settings), start))
        for first, end in held.held_out(len(c.pair.input)):  # a scored piece: where it lies in the signal
            sections += [(name, start + max(lo, first) - first, start + min(hi, end) - first)
                         for name, lo, hi in layout if max(lo, first) < min(hi, end)]
            pieces.append((start, i, first))
            start += end - first
    return Evaluation(np.concatenate([p for p, _ in results]), np.concatenate([t for _, t in results]),
                      effect.sample_rate, source, parts, effect.latency_samples, sections=sections,
                      removed_latency_ms=removed, pieces=pieces, inverted_targets=sum(inverted),
                      training_polarity=str(config.get("polarity", "error")))


def _removed_text(removed: Sequence[Optional[float]]) -> str:
    """What alignment removed from the scored captures, for the summary's latency line."""
    if not removed or all(ms is None for ms in removed):
        return "the device's timing kept (as trained: align off)" if removed else "nothing scored"
    low, high = min(removed), max(removed)
    amount = f"{low:.2f} ms" if math.isclose(low, high, abs_tol=0.005) else f"{low:.2f}-{high:.2f} ms over the captures"
    return f"{amount} of device latency removed from the scored audio (as training removed it)"


def _polarity_lines(ev: Evaluation) -> list[str]:
    """The summary's word on scored targets inverted relative to their input (none: no line)."""
    if not ev.inverted_targets:
        return []
    done = {"flip": "flipped back before scoring, as training flipped its captures",
            "keep": "scored as is, as trained (polarity keep: the model inverts)"}.get(
        ev.training_polarity, "scored as is, though the model was trained on targets in phase: expect a high ESR, and "
                              "check the pair's wiring and file order")
    scored = sum(ms is not None for ms in ev.removed_latency_ms)
    return [f"polarity:         target inverted relative to the input in {ev.inverted_targets} of {scored} scored "
            f"capture(s): {done}"]


# ---- measurements ----
def level_db(x: np.ndarray) -> float:
    """RMS level in dB re full scale (a full-scale square wave is 0 dB)."""
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


@dataclass
class Segments:
    start_seconds: np.ndarray
    esr: np.ndarray
    level_db: np.ndarray  # target RMS per segment


def segment_esr(ev: Evaluation, seconds: float = 1.0) -> Segments:
    """ESR (auraloss) of each `seconds`-long segment; a last segment shorter than half that is
    merged into the one before."""
    if not seconds > 0:
        raise ValueError(f"--segment-seconds must be > 0, got {seconds}")
    n = max(1, int(round(seconds * ev.sample_rate)))
    bounds = list(range(0, len(ev.target), n)) + [len(ev.target)]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < n // 2:
        del bounds[-2]
    starts, esrs, levels = [], [], []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        p, t = torch.from_numpy(ev.prediction[lo:hi]), torch.from_numpy(ev.target[lo:hi])
        starts.append(lo / ev.sample_rate)
        esrs.append(esr(p, t))
        levels.append(level_db(ev.target[lo:hi]))
    return Segments(np.array(starts), np.array(esrs), np.array(levels))


def transient_start(target: np.ndarray, sample_rate: float) -> int:
    """The sample where the strongest onset starts: the 5 ms frame with the largest energy jump
    over the 20 ms before it, among frames within 20 dB of the loudest."""
    hop = max(1, int(0.005 * sample_rate))
    frames = len(target) // hop
    if frames < 6:
        return 0
    energy = np.mean(np.square(target[: frames * hop].reshape(frames, hop), dtype=np.float64), axis=1) + 1e-12
    before = np.convolve(energy, np.ones(4) / 4)[: frames]  # mean of frames i-3..i
    jump = np.full(frames, -np.inf)
    jump[4:] = 10 * np.log10(energy[4:] / before[3:-1])
    jump[energy < energy.max() * 10 ** (-20 / 10)] = -np.inf
    return int(np.argmax(jump)) * hop


# ---- plots ----
def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError(MISSING_MATPLOTLIB) from None
    matplotlib.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt

    return plt


TARGET_STYLE = dict(color="0.15", lw=1.0, label="target (device)")
PREDICTION_STYLE = dict(color="tab:orange", lw=1.0, label="prediction (model in the C++ kernel)")
ERROR_STYLE = dict(color="tab:red", lw=0.8, label="error (target - prediction)")


def _mark_parts(ax, ev: Evaluation) -> None:
    """Vertical lines and labels where one capture setting's audio gives way to the next."""
    if len(ev.parts) < 2:
        return
    # Many settings (a knob grid) leave no room for labels side by side: they stand upright.
    upright = len(ev.parts) > 6
    for label, start in ev.parts:
        x = start / ev.sample_rate
        ax.axvline(x, color="0.5", lw=0.8, ls=":")
        ax.annotate(label, (x, 1), xycoords=("data", "axes fraction"), xytext=(2, -3),
                    textcoords="offset points", va="top", fontsize=6 if upright else 8, color="0.3",
                    rotation=90 if upright else 0)


def plot_loss_curves(history: dict[str, list], title: str, path: Path) -> None:
    plt = _pyplot()
    steps = np.asarray(history["step"], dtype=float)
    loss = np.asarray([math.nan if v is None else v for v in history["train_loss"]], dtype=float)
    val = np.asarray([math.nan if v is None else v for v in history["validation_esr"]], dtype=float)
    fig, ax = plt.subplots(figsize=(9, 4.8), layout="constrained")
    ax.plot(steps, loss, "-", color="tab:blue", marker=".", label="training loss (ESR + DC + 0.1 MR-STFT, mean per interval)")
    ax.plot(steps, val, "-", color="tab:orange", marker="o", ms=4, label="validation ESR (held-out audio, C++ kernel)")
    if np.any(np.isfinite(val)):
        best = int(np.nanargmin(val))
        ax.plot(steps[best], val[best], "*", color="tab:red", ms=14, zorder=5,
                label=f"best validation ESR {val[best]:.4g} at step {steps[best]:.0f} (the weights kept)")
    ax.set_yscale("log")
    ax.set_xlabel("training step (one optimizer update per TBPTT chunk)")
    ax.set_ylabel("loss / ESR (ratio, log scale)")
    seconds = history.get("seconds") or []
    took = f", {steps[-1]:.0f} steps in {seconds[-1] / 60:.1f} min" if seconds and seconds[-1] is not None else ""
    ax.set_title(f"{title}: training curves{took}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_waveform(ev: Evaluation, title: str, path: Path) -> None:
    plt = _pyplot()
    rate = ev.sample_rate
    duration = len(ev.target) / rate
    onset = transient_start(ev.target, rate)
    lo = max(0, onset - int(ZOOM_LEAD_SECONDS * rate))
    hi = min(len(ev.target), lo + int(ZOOM_SECONDS * rate))
    zoom = slice(lo, hi)
    t_ms = (np.arange(lo, hi) - lo) / rate * 1000
    fig, axes = plt.subplots(3, 1, figsize=(11, 8.5), layout="constrained",
                             gridspec_kw=dict(height_ratios=[1, 1.4, 1]))
    ax = axes[0]
    for x, color, label in ((ev.target, "0.35", "target"), (ev.error, "tab:red", "error (target - prediction)")):
        t_env, low, high = _envelope(x, rate)
        ax.fill_between(t_env, low, high, color=color, lw=0, alpha=0.85, label=f"{label}, min/max envelope")
    ax.axvspan(lo / rate, hi / rate, color="tab:blue", alpha=0.3, label="zoomed below")
    _mark_parts(ax, ev)
    ax.set_xlim(0, duration)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude (full scale = 1)")
    ax.set_title(textwrap.fill(f"whole evaluation audio: {ev.source}", TITLE_CHARACTERS), fontsize=9)
    ax.legend(fontsize=8, loc="lower right", ncol=3, framealpha=0.9)
    ax = axes[1]
    ax.plot(t_ms, ev.target[zoom], **TARGET_STYLE)
    ax.plot(t_ms, ev.prediction[zoom], ls="--", **PREDICTION_STYLE)
    ax.set_xlim(t_ms[0], t_ms[-1])
    ax.set_ylabel("amplitude (full scale = 1)")
    ax.set_title(f"zoom on the strongest transient at {onset / rate:.3f} s: target vs prediction", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    ax = axes[2]
    err = ev.error[zoom]
    ax.plot(t_ms, err, **ERROR_STYLE)
    zoom_esr = float(np.sum(np.square(err, dtype=np.float64)) / (np.sum(np.square(ev.target[zoom], dtype=np.float64)) + 1e-20))
    ax.set_xlim(t_ms[0], t_ms[-1])
    ax.set_xlabel(f"time from {lo / rate:.3f} s (ms)")
    ax.set_ylabel("error (full scale = 1)")
    ax.set_title(f"error in the zoomed window: ESR {zoom_esr:.3g}, error level {level_db(err):.1f} dBFS RMS "
                 f"vs target {level_db(ev.target[zoom]):.1f} dBFS", fontsize=10)
    ax.grid(alpha=0.3)
    fig.suptitle(f"{title}: waveforms")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _envelope(x: np.ndarray, rate: float, columns: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(time, min, max) of x over `columns` equal spans: what a waveform of minutes of audio
    looks like at plot resolution, without the aliasing of plotting every n-th sample."""
    per = max(1, len(x) // columns)
    n = len(x) // per
    spans = x[: n * per].reshape(n, per)
    return (np.arange(n) * per + per / 2) / rate, spans.min(axis=1), spans.max(axis=1)


def _spectrogram_db(x: np.ndarray, rate: float, nfft: int, columns: int, bands: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(time edges, frequency edges, dB power) on a grid the plot can show: at most `columns`
    time columns (frames averaged in power) and `bands` log-spaced bands from 20 Hz to Nyquist
    (each the loudest bin inside it, or the nearest bin where a band is narrower than a bin).
    A full-resolution mesh draws ten times slower and looks the same at this size."""
    from scipy import signal as sps

    hop = nfft // 4
    f, _, power = sps.spectrogram(x.astype(np.float64), fs=rate, window="hann", nperseg=nfft, noverlap=nfft - hop,
                                  scaling="spectrum", mode="psd")
    group = max(1, int(math.ceil(power.shape[1] / columns)))  # <= the frame count
    frames = power.shape[1] // group * group
    power = power[:, :frames].reshape(len(f), -1, group).mean(axis=2)
    edges = np.geomspace(20.0, rate / 2, bands + 1)
    starts = np.minimum(np.searchsorted(f, edges[:-1]), len(f) - 1)
    power = np.maximum.reduceat(power, starts, axis=0)
    step = hop * group / rate
    t_edges = np.arange(power.shape[1] + 1) * step
    # "spectrum" scaling puts a sine's RMS² in its bin: x2 makes a full-scale sine read 0 dB.
    return t_edges, edges, 10 * np.log10(2 * power + 1e-20)


def plot_error_spectrogram(ev: Evaluation, title: str, path: Path) -> None:
    plt = _pyplot()
    rate = ev.sample_rate
    nfft = 4096  # 12 Hz bins at 48 kHz: guitar fundamentals stay apart on a log axis
    while nfft > 64 and nfft > len(ev.target):
        nfft //= 2
    panels = [("target (device)", ev.target), ("prediction (model)", ev.prediction), ("error (target - prediction)", ev.error)]
    specs = [_spectrogram_db(x, rate, nfft, columns=600, bands=240) for _, x in panels]
    vmax = float(np.max(specs[0][2]))
    vmin = vmax - 100  # 100 dB of range: from the loudest partial down to near the float noise floor
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), layout="constrained", sharey=True)
    for ax, (name, x), (t, f, db) in zip(axes, panels, specs):
        mesh = ax.pcolormesh(t, f, db, vmin=vmin, vmax=vmax, cmap="magma", shading="flat", rasterized=True)
        ax.set_yscale("log")
        ax.set_ylim(20, rate / 2)
        ax.set_xlabel("time (s)")
        ax.set_title(f"{name}\n{level_db(x):.1f} dBFS RMS", fontsize=10)
        _mark_parts(ax, ev)
    axes[0].set_ylabel("frequency (Hz, log scale)")
    fig.colorbar(mesh, ax=axes, label="power (dB re full-scale sine)", shrink=0.9)
    fig.suptitle(f"{title}: spectrograms (Hann window of {nfft} samples; the error is what the model gets wrong)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def log_axis_esr(esr: np.ndarray, overall: float) -> tuple[np.ndarray, float, float]:
    """Segment ESRs and the overall ESR as a log axis can draw them, and the floor an exact 0 (a
    model that is the device) is drawn on: a decade below the smallest ESR above 0, since float
    rounding alone leaves ESRs near 1e-15 that must stay where they are."""
    above_zero = [float(v) for v in (*esr, overall) if v > 0 and math.isfinite(v)]
    floor = min(above_zero, default=1e-12) / 10
    return np.where(esr == 0, floor, esr), (overall if overall != 0 else floor), floor


def plot_esr_per_segment(ev: Evaluation, seg: Segments, seconds: float, overall: float, title: str, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(11, 4.8), layout="constrained")
    end = len(ev.target) / ev.sample_rate
    edges = np.append(seg.start_seconds, end)
    centres = (edges[:-1] + edges[1:]) / 2
    quiet = seg.level_db < QUIET_DB
    esr, overall_drawn, floor = log_axis_esr(seg.esr, overall)
    exact = f" (0, exact, drawn at {floor:.0e})" if np.any(seg.esr == 0) or overall == 0 else ""
    ax.stairs(esr, edges, color="tab:orange", lw=1.5, baseline=None, label=f"ESR per {seconds:g} s segment{exact}")
    ax.plot(centres[~quiet], esr[~quiet], "o", color="tab:orange", ms=3)
    if np.any(quiet):
        ax.plot(centres[quiet], esr[quiet], "x", color="0.5", ms=5,
                label=f"near-silent segment (target < {QUIET_DB:g} dBFS): its ESR measures noise")
    ax.axhline(overall_drawn, color="tab:red", ls="--", lw=1, label=f"overall ESR {overall:.4g}")
    finite = esr[np.isfinite(esr)]
    if len(finite):  # before the log scale: its autoscale warns on data of one value
        low, high = min(finite.min(), overall_drawn), max(finite.max(), overall_drawn)
        ax.set_ylim(low / 2, high * 2)
    ax.set_yscale("log")
    ax.set_xlabel("time in the scored audio (s)" + (": the scored pieces joined (summary.txt gives the worst "
                                                     "segments' places in the captures)" if ev.joined else ""))
    ax.set_ylabel("ESR (ratio, log scale; lower is better)")
    ax.grid(True, which="both", axis="y", alpha=0.3)
    _mark_parts(ax, ev)
    level = ax.twinx()
    level.stairs(seg.level_db, edges, color="tab:blue", lw=1, alpha=0.7, baseline=None, label="target level (RMS)")
    level.set_ylim(min(float(seg.level_db.min()), -60.0) - 5, 5)
    level.set_ylabel("target level (dBFS RMS)", color="tab:blue")
    level.tick_params(axis="y", colors="tab:blue")
    lines = ax.get_legend_handles_labels()
    more = level.get_legend_handles_labels()
    fig.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="outside lower center", ncol=4)
    ax.set_xlim(0, end)
    ax.set_title(f"{title}: ESR over time\n" + textwrap.fill(ev.source, TITLE_CHARACTERS), fontsize=10)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- the report ----
@dataclass
class Report:
    paths: list[Path]
    esr: float
    stft: float
    summary: str
    notes: list[str]


def _architecture(blocks) -> str:
    return " -> ".join(f"{b.type}({', '.join(f'{k}={json.dumps(v)}' for k, v in b.config.items())})" for b in blocks)


def write_report(model_path: str | os.PathLike, out_dir: str | os.PathLike,
                 input_path: Optional[str | os.PathLike] = None, target_path: Optional[str | os.PathLike] = None,
                 knobs: Optional[dict[str, float]] = None, segment_seconds: float = 1.0, whole: bool = False,
                 channels: tuple[Optional[int], Optional[int]] = (None, None)) -> Report:
    """Writes the plots and summary.txt of `model_path` into `out_dir`; see the module docstring.
    `channels`: the pair's input and target channel (1-based; None: the first)."""
    from . import modelfile
    from .presets import resolve_model

    _pyplot()  # fail before minutes of audio work when plots cannot be drawn
    path = resolve_model(model_path)
    mf = modelfile.load(path)
    meta = mf.metadata
    name = meta.get("name") or path.stem
    ev = evaluate(path, input_path, target_path, knobs, whole, channels)
    seg = segment_esr(ev, segment_seconds)
    p, t = torch.from_numpy(ev.prediction), torch.from_numpy(ev.target)
    overall, stft = esr(p, t), stft_distance(p, t)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths, notes = [], []
    history = meta.get("history")
    if history and history.get("step"):
        plot_loss_curves(history, name, out / "loss_curves.png")
        paths.append(out / "loss_curves.png")
    else:
        notes.append("no loss_curves.png: this model file has no training history (metadata.history); "
                     "models trained by this version of neuralfx record it")
    plot_waveform(ev, name, out / "waveform.png")
    plot_error_spectrogram(ev, name, out / "error_spectrogram.png")
    plot_esr_per_segment(ev, seg, segment_seconds, overall, name, out / "esr_per_segment.png")
    paths += [out / "waveform.png", out / "error_spectrogram.png", out / "esr_per_segment.png"]

    summary = _summary(path, mf, ev, seg, segment_seconds, overall, stft, notes)
    (out / "summary.txt").write_text(summary)
    paths.append(out / "summary.txt")
    return Report(paths, overall, stft, summary, notes)


def worst_segment_lines(ev: Evaluation, seg: Segments, segment_seconds: float, count: int = 3) -> list[str]:
    """The summary's list of the segments of highest ESR (not near-silent ones), each by where it
    lies: its time, or in joined audio where it starts and ends in the captures."""
    loud = np.flatnonzero(seg.level_db >= QUIET_DB)
    worst = loud[np.argsort(seg.esr[loud])[::-1][:count]]
    lines = [f"worst {segment_seconds:g} s segments (target above {QUIET_DB:g} dBFS)"
             + (" of the scored pieces joined, by where they start and end in the captures' input files:"
                if ev.joined else ":")]
    ends = np.append(seg.start_seconds[1:], len(ev.target) / ev.sample_rate)  # a short last piece is merged in
    for i in worst:
        first = int(round(seg.start_seconds[i] * ev.sample_rate))
        last = min(len(ev.target), int(round(ends[i] * ev.sample_rate))) - 1
        where = f"{ev.capture_time(first)} .. {ev.capture_time(last)}" if ev.joined else f"{ev.capture_time(first):>9}"
        lines.append(f"  {where}  ESR {seg.esr[i]:.4g}  target {seg.level_db[i]:.1f} dBFS RMS")
    if not len(worst):
        lines.append("  none: every segment is near-silent")
    return lines


def _summary(path: Path, mf, ev: Evaluation, seg: Segments, segment_seconds: float, overall: float, stft: float,
             notes: list[str]) -> str:
    from .dsp.fit import settings_lines
    from .model import Model

    meta = mf.metadata
    params = sum(int(np.prod(w.shape)) for b in mf.blocks for w in b.weights.values())
    lines = [
        f"model:            {meta.get('name') or path.stem} ({path})",
        f"architecture:     {_architecture(mf.blocks)}, {params} parameters",
        *(f"settings:         {line}" for line in settings_lines(Model.from_modelfile(mf))),
        f"knobs:            {', '.join(f'{k.name} [{k.min:g}..{k.max:g}] {k.unit}'.rstrip() for k in mf.knobs) or 'none'}",
        f"sample rate:      {mf.sample_rate:g} Hz",
        f"latency:          {ev.latency_samples} samples ({ev.latency_samples / mf.sample_rate * 1000:.2f} ms) in the "
        f"model; {_removed_text(ev.removed_latency_ms)}",
        *_polarity_lines(ev),
        "trained on:       " + textwrap.fill(str(meta.get("trained_on", "not recorded")), 100,
                                                 subsequent_indent=" " * 18),
    ]
    if "train_steps" in meta:
        lines.append(f"training:         {meta['train_steps']} steps in {meta.get('train_seconds', float('nan')):g} s"
                     f"{', created ' + meta['created'] if 'created' in meta else ''}")
    lines += [
        "",
        f"evaluated on:     {ev.source}",
        f"                  {len(ev.target) / ev.sample_rate:.1f} s of audio, prediction by the model file in the C++ kernel",
        f"ESR:              {overall:.6g}   (auraloss ESRLoss; {10 * math.log10(max(overall, 1e-20)):.1f} dB)",
        f"MR-STFT:          {stft:.6g}   (auraloss MultiResolutionSTFTLoss, default resolutions)",
    ]
    if "validation_esr" in meta:
        lines.append(f"stored val. ESR:  {meta['validation_esr']:.6g}   (metadata: the best validation in training, whose weights were kept)")
    for key, value in (meta.get("heldout_esr") or {}).items():
        lines.append(f"held-out setting: {_settings_text(json.loads(key))}: ESR {value:.6g} (metadata)")
    if len(ev.parts) > 1:
        bounds = [s for _, s in ev.parts] + [len(ev.target)]
        for (label, lo), hi in zip(ev.parts, bounds[1:]):
            part = esr(torch.from_numpy(ev.prediction[lo:hi]), torch.from_numpy(ev.target[lo:hi]))
            lines.append(f"  at {label}: ESR {part:.6g}")
    names = list(dict.fromkeys(name for name, _, _ in ev.sections))
    if len(names) == 1:
        lines.append(f"capture signal:   its {names[0]} only (report --whole scores every section)")
    elif len(names) > 1:
        lines.append("by section of the capture signal" + (" (pooled over the captures):" if len(ev.parts) > 1 else ":"))
        for name in names:
            spans = [slice(lo, hi) for n, lo, hi in ev.sections if n == name]
            p, t = (torch.from_numpy(np.concatenate([a[s] for s in spans])) for a in (ev.prediction, ev.target))
            level = level_db(t.numpy())
            # A short capture's held-out pieces can miss a section's sound: its ESR, error over
            # near-silence, read 2.5e9 for the sweeps of a 12 s capture.
            lines.append(f"  {name + ':':18s}" + (f"ESR {esr(p, t):.6g}" if level >= QUIET_DB else
                         f"not scored: its {len(t)} samples scored are near-silent (target "
                         + (f"{level:.1f} dBFS RMS)" if t.any() else "silent)")))
    lines += ["", *worst_segment_lines(ev, seg, segment_seconds)]
    history = meta.get("history")
    if history and history.get("step"):
        lines.append(f"\nhistory:          {len(history['step'])} validations, last at step {history['step'][-1]}")
    lines += [""] + [f"note: {n}" for n in notes]
    return "\n".join(lines).rstrip() + "\n"
