"""Fitting a model to (input, target) captures.

Truncated back-propagation through time after Wright et al. (DAFx 2019): random segments, a
warm-up run without gradients to settle the recurrent state, then one optimizer step per
`tbptt_samples` chunk. Validation runs the exported model in the C++ kernel on held-out audio
(the last `validation_fraction` of every `validation_span_seconds` of each capture:
neuralfx.holdout), so the recorded ESR is the one of the file that ships. Early stopping keeps
the best validated weights."""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import json
import math
import numbers
import os
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence

import numpy as np
import torch

from . import __version__
from .alignment import DEFAULT_MAX_LATENCY_SECONDS, Alignment
from .architectures import ARCHITECTURES
from .capture import CapturePair
from .datacheck import check_unaligned, dc_offset, dc_offset_note, describe_alignment, prepare
from .holdout import (DEFAULT_FRACTION, MIN_FRACTION, MIN_VALIDATION_SAMPLES, VALIDATION_CONTEXT, Holdout,
                      training_span)
from .dsp.delay import MIN_DELAY_MS, UNMEASURED_REASONS, Delay, refine_rates, start_at_measured_echo
from .dsp.params import dsp_weight_ids, optimizer_groups, step
from .knobs import Knob
from .losses import LossWeights, TrainingLoss, esr, stft_distance
from .model import Model
from .models import GRU, LSTM, TCN, WaveNet
from .schedules import (DSP_LR_SCALE_BESIDE_NETWORK, LR_SCHEDULES, learning_rate_scheduler, resolve_dsp_lr_scale,
                        resolve_schedule, resume_rates)
from .scores import esr_text

if TYPE_CHECKING:
    from .effects import NeuralEffect


@dataclass
class TrainConfig:
    arch: str = "lstm"
    hidden_size: int = 32
    num_layers: int = 1
    batch_size: int = 16
    warmup_samples: int = 1024
    tbptt_samples: int = 2048
    chunks_per_segment: int = 4
    learning_rate: float = 5e-3
    # DSP parameters (a grey-box model's EQ, a Compressor) step by learning_rate times this times
    # their range (log-stepped ones over the log of it: dsp.params.step). At 1, with steps in Hz,
    # clean_amp's EQ moved ~190 Hz a step: its input bands ran to their range's edges and went
    # inert (validation ESR 0.0031, held-out 0.042/0.045). At 0.1 they settle on the device's own
    # settings (docs/DSP.md, Grey-box models). None: 0.1 beside a network, 2 for DSP blocks alone,
    # whose 300-step runs 0.1 left 1e7 worse (schedules.resolve_dsp_lr_scale).
    dsp_lr_scale: Optional[float] = None
    max_steps: Optional[int] = 4000  # None: no step limit (max_seconds or early stopping ends the run)
    max_seconds: Optional[float] = None
    validation_fraction: float = DEFAULT_FRACTION
    # Held out: the last validation_fraction of every span of this length, so that validation
    # hears all of a capture (None: its end alone; neuralfx.holdout).
    validation_span_seconds: Optional[float] = 1.0
    validate_every: int = 100
    patience: int = 8  # validations without improvement that end a run on the plateau schedule
    # neuralfx.schedules: "plateau" halves the rate when validation stalls, "cosine" decays it
    # to 0 over max_steps, as fit does, and runs to max_steps (stopping early while the rate is
    # still high kept a compressor 20x worse); "auto" takes the cosine for DSP blocks alone (which
    # the plateau left oscillating about the optimum) when the step limit is the only limit.
    lr_schedule: str = "auto"
    loss: LossWeights = field(default_factory=LossWeights)
    seed: int = 0
    device: str = "auto"
    # CPU threads for torch. Small recurrent nets are bound by the per-sample dependency chain,
    # not arithmetic: one thread is as fast and avoids OpenMP spin-waiting on a busy machine
    # (measured here: 2 threads were 25x slower per step than 1 while other jobs ran).
    threads: Optional[int] = 1
    # Written at validations; a run given an existing checkpoint resumes from it.
    checkpoint: Optional[str] = None
    # Data checks and alignment (neuralfx.datacheck.prepare) run on every capture first. Without
    # alignment the captures' timing is the device's own: a delay pedal's echo, at a mix of 0.5
    # or more, is what alignment would take for its latency (a model with a Delay block models it).
    align: bool = True
    max_latency_seconds: float = DEFAULT_MAX_LATENCY_SECONDS
    polarity: str = "error"  # an inverted target: "error", "flip" it back, or "keep" it
    allow_clipping: bool = False

    def __post_init__(self) -> None:
        # From Python these reached train() unchecked: validate_every=0 divided by zero,
        # chunks_per_segment=0 raised an UnboundLocalError, learning_rate=-1 trained away from the target.
        # None: no limit, no spans, the DSP step scale by the model
        optional = ("max_steps", "max_seconds", "validation_span_seconds", "dsp_lr_scale")
        for name in ("hidden_size", "num_layers", "batch_size", "warmup_samples", "tbptt_samples", "chunks_per_segment",
                     "max_steps", "validate_every", "patience"):
            value = getattr(self, name)
            if value is None and name in optional:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a whole number >= 1, got {value!r}")
        for name in ("learning_rate", "dsp_lr_scale", "max_seconds", "validation_span_seconds"):
            value = getattr(self, name)
            if value is None and name in optional:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
                raise ValueError(f"TrainConfig.{name} must be a number above 0, got {value!r}")
        fraction = self.validation_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not MIN_FRACTION <= fraction < 1:
            raise ValueError(f"TrainConfig.validation_fraction must be at least {MIN_FRACTION} and below 1 (the share of "
                             f"every capture validated on), got {fraction!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"TrainConfig.lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.lr_schedule == "cosine" and self.max_steps is None:
            raise ValueError("TrainConfig.lr_schedule 'cosine' decays over max_steps: set max_steps, or use 'plateau'")
        if not isinstance(self.align, bool):
            raise ValueError(f"TrainConfig.align must be True or False, got {self.align!r}")
        if not self.align and (self.polarity != "error" or self.max_latency_seconds != DEFAULT_MAX_LATENCY_SECONDS):
            raise ValueError("TrainConfig.polarity and max_latency_seconds act on the alignment, and align is False: "
                             "align the captures, or leave them at their defaults")
        if self.validation_span_seconds is not None and not self.validation_span_seconds <= 86400:
            raise ValueError(f"TrainConfig.validation_span_seconds must be at most 86400 (a day) or None (hold out "
                             f"each capture's end), got {self.validation_span_seconds!r}")


# The TrainConfig entries that choose build_model's network.
ARCHITECTURE_KEYS = ("arch", "hidden_size", "num_layers")


@dataclass
class Capture:
    """One capture and the knob settings (in knob units) the device had while it was recorded."""

    pair: CapturePair
    settings: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainResult:
    model: Model
    validation_esr: float
    validation_stft: float
    steps: int
    seconds: float
    history: list[dict[str, float]]
    alignments: list[Alignment] = field(default_factory=list)  # one per training capture
    # ESR at knob settings never trained on, keyed by the settings as JSON.
    heldout_esr: dict[str, float] = field(default_factory=dict)
    # The caller gave the model (a template, a recipe's chain): config.arch did not build it.
    model_given: bool = False
    # Validation ESR of each capture alone, in capture order, where there are several.
    validation_esr_per_capture: list[float] = field(default_factory=list)
    holdout: Optional[Holdout] = None  # what was validated on
    lr_schedule: str = "plateau"  # the schedule taken ("auto" resolved)
    dsp_lr_scale: float = DSP_LR_SCALE_BESIDE_NETWORK  # the DSP step scale taken (None resolved)
    # A Delay's time measured in the captures before training, by name (None: none stood out).
    measured: dict[str, Optional[float]] = field(default_factory=dict)

    def metadata(self, trained_on: str, config: TrainConfig, name: str = "") -> dict:
        extra = {"heldout_esr": self.heldout_esr} if self.heldout_esr else {}
        if self.measured:
            extra["measured_delay_ms"] = self.measured
        if self.validation_esr_per_capture:
            extra["validation_esr_per_capture"] = self.validation_esr_per_capture
        settings = {**asdict(config), "lr_schedule": self.lr_schedule, "dsp_lr_scale": self.dsp_lr_scale}
        if self.model_given:  # the blocks say what the model is; "arch: lstm" would be untrue
            for key in ARCHITECTURE_KEYS:
                del settings[key]
        return {
            "name": name,
            "trained_on": trained_on,
            "validation_esr": self.validation_esr,
            "validation_stft": self.validation_stft,
            "train_steps": self.steps,
            "best_step": _best_step(self.history),  # whose weights were kept
            "train_seconds": round(self.seconds, 1),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "neuralfx_version": __version__,
            "config": settings,
            "alignment": [a.to_json() for a in self.alignments],
            **({"validation": self.holdout.to_json()} if self.holdout else {}),
            **extra,
            "history": compact_history(self.history),
        }


# What one validation records; `neuralfx report` plots these from the model file.
HISTORY_KEYS = ("step", "seconds", "train_loss", "validation_esr", "validation_stft")


def compact_history(history: Sequence[dict[str, float]]) -> dict[str, list]:
    """One list per quantity, one point per validation, 6 significant digits: a 4000-step run
    validated every 100 steps adds about 2 kB to the model file. Non-finite values become null
    (JSON has no NaN)."""
    def number(v: float):
        if isinstance(v, int):
            return v
        return float(f"{v:.6g}") if math.isfinite(v) else None

    return {key: [number(h[key]) for h in history] for key in HISTORY_KEYS}


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise ValueError(f"device '{name}' is not a torch device ({e}): use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device '{name}': this torch ({torch.__version__}) sees no CUDA GPU: "
                         "use device 'auto' or 'cpu', or install a CUDA build of torch on a machine with a GPU")
    if device.type not in ("cpu", "cuda"):
        # mps on Linux, xpu without its build, meta (no values at all) failed mid-run with a traceback.
        try:
            torch.ones(1, device=device).sum().item()
        except Exception as e:  # each backend fails its own way: RuntimeError, AssertionError, ModuleNotFoundError
            text = str(e).strip()
            why = text.splitlines()[0].split(". ")[0] if text else ""  # torch's run on for lines
            if not why or "INTERNAL ASSERT" in why:  # it asks the user to report a bug to PyTorch
                why = type(e).__name__
            raise ValueError(f"device '{name}': this torch cannot train on it ({why}): "
                             "use auto, cpu, cuda or cuda:N") from None
    return device


def _start_distributed(device: torch.device) -> tuple[int, int, bool]:
    """(rank, world size, whether this call started the process group). Under torchrun
    (WORLD_SIZE > 1) each process trains on its own batches and DDP averages the gradients."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, False
    started = not dist.is_initialized()
    if device.type == "cuda":
        torch.cuda.set_device(device)  # NCCL's collectives (the barrier too) use the current device
    if started:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), started


def _broadcast(value: float, world: int, device: torch.device) -> float:
    """Rank 0's value on every rank, so that all ranks take the same decisions."""
    if world == 1:
        return value
    import torch.distributed as dist

    t = torch.tensor([value], dtype=torch.float64, device=device)  # NCCL moves CUDA tensors only
    dist.broadcast(t, 0)
    return float(t.item())


def build_model(config: TrainConfig, sample_rate: float, knobs: Sequence[Knob] = ()) -> Model:
    """A fresh model of config.arch, conditioned on the knobs."""
    cond = [k.name for k in knobs]
    if config.arch in ("lstm", "gru"):
        cell = LSTM if config.arch == "lstm" else GRU
        block = cell(config.hidden_size, config.num_layers, conditioning=cond, skip=True)
    elif config.arch.startswith("wavenet-") and config.arch in ARCHITECTURES:
        block = WaveNet.preset(config.arch.split("-", 1)[1], conditioning=cond)
    elif config.arch == "tcn":
        block = TCN(conditioning=cond)
    else:
        raise ValueError(f"TrainConfig.arch: unknown architecture '{config.arch}' (choose one of {', '.join(ARCHITECTURES)})")
    return Model([block], sample_rate, knobs)


def segment_length(config: TrainConfig, warmup: int) -> int:
    """Samples of one training segment: its warm-up (warmup_length) and its TBPTT chunks."""
    return warmup + config.tbptt_samples * config.chunks_per_segment


def training_holdout(config: TrainConfig, sample_rate: float, warmup: int) -> Holdout:
    """The audio of each capture that training holds out to validate on, for a model warmed up
    on `warmup` samples (warmup_length): every span trains on a whole segment, and each held-out
    piece is scored after at least that much context."""
    span = training_span(config.validation_span_seconds, sample_rate, config.validation_fraction,
                         segment_length(config, warmup))
    return Holdout(config.validation_fraction, span, max(VALIDATION_CONTEXT, warmup), sample_rate)


def _check_settings(capture: Capture, what: str, knobs: Sequence[Knob]) -> None:
    for k in knobs:
        if k.name not in capture.settings:
            raise ValueError(f"{what} has no setting for knob '{k.name}'")
        k.check(capture.settings[k.name])


def _capture_rate(captures: Sequence[Capture]) -> float:
    if not captures:
        raise ValueError("no capture to train on")
    rates = {c.pair.sample_rate for c in captures}
    if len(rates) != 1:
        raise ValueError(f"captures have different sample rates {sorted(rates)}: record all at one rate")
    return rates.pop()


# Repeats of each Delay's time in the warm-up before a segment: a repeat left out of the line is
# missing from the prediction at feedback**8 of the echo (3e-4 at feedback 0.4). At 1024 samples
# a 300 ms echo never reached a segment's loss (fit ended at feedback 0, ESR 0.82).
DELAY_WARMUP_REPEATS = 8


def history_samples(model: Model, knob_values: Optional[Mapping[str, float]] = None) -> int:
    """Samples of past input the model's output depends on: its convolutional networks' receptive
    fields less one (a TCN warmed up on 1024 of its 4093 samples of context was trained on output
    it never gives mid-stream), and DELAY_WARMUP_REPEATS repeats of every Delay's time; summed,
    which covers blocks in series and inside a DryWet. A time on a knob counts at the value
    `knob_values` gives that knob (train passes the most the captures set it to), else at the top
    of its range."""
    def time_ms(delay: Delay) -> float:
        knob = delay.knob_bindings.get("delay_ms")
        if knob is None:
            return float(delay.delay_ms.detach())
        return min(delay.max_delay_ms, (knob_values or {}).get(knob, delay.max_delay_ms))

    convolutional = sum(m.receptive_field - 1 for m in model.modules() if isinstance(m, (TCN, WaveNet)))
    delays = sum(time_ms(m) * m.sample_rate / 1000.0 for m in model.modules() if isinstance(m, Delay))
    return convolutional + math.ceil(DELAY_WARMUP_REPEATS * delays)


def warmup_length(model: Model, config: TrainConfig, knob_values: Optional[Mapping[str, float]] = None) -> int:
    """Samples run before each training segment to set the state: config.warmup_samples, or the
    model's history_samples (knob_values: as there) where that is longer."""
    return max(config.warmup_samples, history_samples(model, knob_values))


def check_held_out_level(target: np.ndarray, held: Holdout, what: str) -> None:
    """Refuses a target whose held-out audio, the part validated on, is silent or more than 60 dB
    below the whole: a capture ringing out into silence scored meaningless ESRs there (3e7 and
    worse) and training kept the wrong weights."""
    power_held = float(np.mean(np.square(held.held_out_audio(target), dtype=np.float64)))
    power = float(np.mean(np.square(target, dtype=np.float64)))
    if not power_held > 1e-6 * power:
        level = "silent" if power_held == 0 else f"{10 * np.log10(power / power_held):.0f} dB below the whole"
        cut = "the silence from the end" if held.span is None else "the silent stretches"
        raise ValueError(f"{held.describe()} of {what}, which is validated on, is {level}: cut {cut} of both files")


def _check_captures(captures: Sequence[Capture], config: TrainConfig, knobs: Sequence[Knob], warmup: int,
                    held: Holdout) -> None:
    need = segment_length(config, warmup)
    rate = captures[0].pair.sample_rate
    for i, c in enumerate(captures):
        n = len(c.pair.input)
        shortest = held.shortest(n, need)
        if shortest is not None:
            raise ValueError(
                f"capture {i} is too short ({n} samples, {n / rate:.2f} s): it needs at least {shortest} samples "
                f"({shortest / rate:.2f} s at {rate:g} Hz), {need} to train on (warm-up and one TBPTT segment) before "
                f"each held-out piece ({held.describe()}) and {MIN_VALIDATION_SAMPLES} held out in all to validate on; "
                "record longer (from Python, a smaller TrainConfig.tbptt_samples or chunks_per_segment needs less)"
            )
        check_held_out_level(c.pair.target, held, f"capture {i}'s target")
        _check_settings(c, f"capture {i}", knobs)


def _stopped_early(config: TrainConfig, schedule: str, st: _Progress) -> bool:
    """Whether the plateau schedule's patience has run out (the cosine runs to max_steps)."""
    return schedule != "cosine" and st.stale >= config.patience


def _steps_spent(config: TrainConfig, step: int) -> bool:
    return config.max_steps is not None and step >= config.max_steps


def _time_limit_spent(config: TrainConfig, seconds: float) -> bool:
    """Whether `seconds` of training (all runs of a checkpoint) use up config.max_seconds."""
    return bool(config.max_seconds) and seconds >= config.max_seconds


def prepare_captures(captures: Sequence[Capture], config: TrainConfig, progress: Callable[[str], None] = print,
                     what: str = "capture") -> tuple[list[Capture], list[Alignment]]:
    """Every capture checked and aligned (neuralfx.datacheck.prepare), with the latency found;
    with config.align False, checked only (no latencies)."""
    prepared, found, offsets = [], [], {}
    for i, c in enumerate(captures):
        name = f"{what} {i}" + (f" ({_settings_text(c.settings)})" if c.settings else "")
        if np.array_equal(c.pair.input, c.pair.target):  # the same file twice trained without a word
            progress(f"note: {name}: the target is the input itself, sample for sample, so the model learns to change "
                     "nothing; if the device changes the sound, give its recording as the target (a file holding the "
                     "dry signal and the device's output on two channels: --input-channel 1 --target-channel 2)")
        if config.align:
            pair, a = prepare(c.pair, config.max_latency_seconds, config.polarity, config.allow_clipping, what=name)
            progress(f"{name}: {describe_alignment(a, config.polarity)}")
            found.append(a)
        else:
            pair = check_unaligned(c.pair, config.allow_clipping, what=name)
        offsets[name] = dc_offset(pair.input, pair.sample_rate)
        prepared.append(Capture(pair, c.settings))
    note = dc_offset_note(offsets)  # once: a sweep's captures share one input
    if note:
        progress(note)
    if not config.align and captures:
        progress(f"{what}s not aligned (align off): their timing is the device's")
    return prepared, found


def _settings_text(settings: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in settings.items())


def score_settings(model: Model, captures: Sequence[Capture]) -> dict[str, float]:
    """ESR over each whole (aligned) capture, keyed by its knob settings as JSON: how the model
    does at settings it was not trained on."""
    return {json.dumps(c.settings): validate(model, [c], WHOLE).esr for c in captures}


# Scores a whole capture.
WHOLE = Holdout(1.0)


def heldout_predictions(effect: "NeuralEffect", captures: Sequence[Capture],
                        held: Holdout) -> list[tuple[np.ndarray, np.ndarray]]:
    """(prediction, target) on each capture's held-out audio (its pieces in order), the
    prediction made by `effect` (a model file in the C++ kernel) at the capture's settings, each
    piece after held.context samples of context."""
    out = []
    for c in captures:
        for name, value in c.settings.items():
            effect.set_knob(name, value)
        predicted = []
        for lo, hi in held.held_out(len(c.pair.input)):
            context = max(0, lo - held.context)
            predicted.append(effect.process(c.pair.input[context:hi], effect.sample_rate, reset=True)[lo - context :])
        out.append((np.concatenate(predicted), held.held_out_audio(c.pair.target)))
    return out


@dataclass
class Validation:
    esr: float
    stft: float
    prediction: np.ndarray  # the held-out audio of every capture, concatenated
    target: np.ndarray
    esr_per_capture: list[float]


def validate(model: Model, captures: Sequence[Capture], held: Holdout) -> Validation:
    """ESR and MR-STFT distance of the model, run in the C++ kernel, on every capture's held-out
    audio, pooled and per capture."""
    from .effects import NeuralEffect

    effect = NeuralEffect.from_json(model.to_modelfile().to_json())
    pairs = heldout_predictions(effect, captures, held)
    p, t = np.concatenate([p for p, _ in pairs]), np.concatenate([t for _, t in pairs])
    pt, tt = torch.from_numpy(p), torch.from_numpy(t)
    return Validation(esr(pt, tt), stft_distance(pt, tt), p, t,
                      [esr(torch.from_numpy(p), torch.from_numpy(t)) for p, t in pairs])


def train(
    captures: Sequence[Capture],
    config: TrainConfig = TrainConfig(),
    knobs: Sequence[Knob] = (),
    model: Optional[Model] = None,
    progress: Callable[[str], None] = print,
    heldout: Sequence[Capture] = (),
) -> TrainResult:
    """Fits the model to the captures (checked and aligned first). Held-out captures, at knob
    settings not trained on, are scored once training ends (TrainResult.heldout_esr). knobs: the
    model's knobs, which the captures' settings set; a model given without them takes its own."""
    report = progress if int(os.environ.get("RANK", "0")) == 0 else _quiet
    device = pick_device(config.device)  # first: a device this machine lacks is known before any work
    if model is not None and list(knobs) != model.knobs:
        if knobs:  # a knob row the model does not read, or a missing one, failed deep in a block
            raise ValueError(f"knobs {[k.name for k in knobs]} are not the model's knobs "
                             f"({[k.name for k in model.knobs]}, with their ranges): pass knobs=model.knobs")
        knobs = model.knobs
    for i, h in enumerate(heldout):  # a hand-edited manifest "held out" a trained setting, scored as never trained on
        same = next((j for j, c in enumerate(captures) if c.settings == h.settings), None)
        if same is not None:
            raise ValueError(f"held-out capture {i} ({_settings_text(h.settings) or 'no knobs'}) has the knob settings "
                             f"of training capture {same}: a held-out capture scores a setting never trained on; give "
                             "it other settings, or train on it (\"heldout\": false in manifest.json)")
    captures, alignments = prepare_captures(captures, config, report)
    heldout, _ = prepare_captures(heldout, config, report, what="held-out capture")
    sample_rate = _capture_rate(captures)
    model_given = model is not None
    torch.manual_seed(config.seed)
    model = model if model_given else build_model(config, sample_rate, knobs)
    # Before the warm-up's length, which follows a Delay's time. Over the whole captures, as
    # alignment reads them: one time, not a fit to the held-out audio.
    measured = start_at_measured_echo(model, [(c.pair.input, c.pair.target) for c in captures])
    if any(isinstance(m, Delay) for m in model.modules()):
        for i, a in enumerate(alignments):
            if a.latency_ms >= MIN_DELAY_MS:  # a delay pedal at mix 0.7 was aligned on its 300 ms echo
                report(f"note: capture {i}'s latency of {a.latency_ms:.2f} ms was removed, and the model has a Delay: "
                       "if that is the device's delay time, alignment took its echo for the latency: train on the "
                       "captures' own timing (align=False, --no-align)")
    for name, ms in measured.items():
        report(f"{name}: started at {ms:.6g} ms, the echo measured in the captures' responses" if ms is not None else
               f"note: {name} could not be measured in the captures' responses ({UNMEASURED_REASONS}; the "
               "captures' echoes must lie within a sample of each other, so a time that changes between them "
               "belongs on a knob): descent alone rarely finds a delay time")
    # A delay time on a knob warms up over the longest time the captures set, not the knob's top:
    # at 200 and 300 ms behind a 2000 ms line, 6 steps took 18.1 s and 3.5 GB with the top, 3.0 s
    # and 0.96 GB without (batch 16, the feedback learning through the warm-up).
    longest = {k.name: max(float(c.settings.get(k.name, k.max)) for c in captures) for k in knobs}
    warmup = warmup_length(model, config, longest)
    held = training_holdout(config, sample_rate, warmup)
    _check_captures(captures, config, knobs, warmup, held)
    for i, c in enumerate(heldout):
        _check_settings(c, f"held-out capture {i}", knobs)
    threads_before = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        return _train(captures, config, knobs, model, model_given, device, sample_rate, warmup, held, alignments,
                      heldout, progress, measured)
    finally:
        torch.set_num_threads(threads_before)  # a notebook's torch kept one thread after train()


def _train(captures: list[Capture], config: TrainConfig, knobs: Sequence[Knob], model: Model, model_given: bool,
           device: torch.device, sample_rate: float, warmup: int, held: Holdout, alignments: list[Alignment],
           heldout: list[Capture], progress: Callable[[str], None],
           measured: dict[str, Optional[float]]) -> TrainResult:
    # Parameters keep their identity through model.to(device): the groups hold.
    dsp_scale = _dsp_lr_scale(config, model)
    groups = optimizer_groups(model, config.learning_rate, dsp_scale, refine_rates(model, measured))
    if not groups:  # torch said "optimizer got an empty parameter list"
        raise ValueError("nothing to train: the model has no network, and every parameter of its DSP blocks is bound "
                         "to a knob (set by the captures' settings)")
    rank, world, started_distributed = _start_distributed(device)
    # Same initial weights everywhere (seeded in train), different batches on each rank.
    rng = np.random.default_rng([config.seed, rank])
    if rank != 0:
        progress = _quiet
    model.to(device)
    loss_fn = TrainingLoss(config.loss, config.tbptt_samples).to(device)
    optimizer = torch.optim.Adam(groups)
    schedule = _schedule(config, model)
    cosine = schedule == "cosine"
    scheduler = learning_rate_scheduler(optimizer, schedule, config.max_steps, config.patience)

    inputs = [torch.from_numpy(c.pair.input) for c in captures]
    targets = [torch.from_numpy(c.pair.target) for c in captures]
    knob_values = [torch.tensor([k.normalize(c.settings[k.name]) for k in knobs], dtype=torch.float32) for c in captures]
    # Every stretch trained on, as (capture, start, end); a segment lies inside one.
    stretches = [(i, lo, hi) for i, c in enumerate(captures) for lo, hi in held.trained(len(c.pair.input))]
    trained_samples = np.array([hi - lo for _, lo, hi in stretches], dtype=np.float64)
    segment = segment_length(config, warmup)

    def batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        which = rng.choice(len(stretches), size=config.batch_size, p=trained_samples / trained_samples.sum())
        xs, ys, ks = [], [], []
        for w in which:
            i, lo, hi = stretches[w]
            start = int(rng.integers(lo, hi - segment + 1))
            xs.append(inputs[i][start : start + segment])
            ys.append(targets[i][start : start + segment])
            ks.append(knob_values[i])
        k = torch.stack(ks)[:, :, None].expand(-1, -1, segment)
        return torch.stack(xs).to(device), torch.stack(ys).to(device), k.to(device)

    settings = _resume_settings(config, dsp_scale)
    fingerprints = _run_fingerprints(captures, model, config, held, dsp_scale, settings)
    st = _Progress(best_state=copy.deepcopy(model.state_dict()), data=fingerprints[0])
    if config.checkpoint and Path(config.checkpoint).exists():
        # A checkpoint of an earlier neuralfx, which did not record its step settings, resumes
        # under this run's (it checked learning_rate and dsp_lr_scale only).
        saved = _load_checkpoint(Path(config.checkpoint), model, optimizer, scheduler, rng, fingerprints, schedule,
                                 settings)
        st = replace(saved, data=st.data)
        if rank != 0:  # the checkpoint holds rank 0's sampler: the others draw afresh
            rng = np.random.default_rng([config.seed, rank, st.step])
        spent = _time_limit_spent(config, st.seconds)
        progress(f"resumed from {config.checkpoint} at step {st.step}"
                 + (f": nothing left to train up to max_steps {config.max_steps}" if _steps_spent(config, st.step)
                    else f": nothing left to train, it stopped early (no improvement in {st.stale} validations, "
                         f"patience {config.patience}): raise patience to go on" if _stopped_early(config, schedule, st)
                    else f": nothing left to train, its {st.seconds / 60:.3g} min of training already use the time "
                         f"limit of {config.max_seconds / 60:.3g} min (counted over every run of a checkpoint)" if spent
                    else " (saved inside a segment: going on with a new one)" if st.mid_segment else ""))
    t0, running = time.monotonic() - st.seconds, []
    # A Delay's feedback is learned from the repeats of echoes of the warm-up, which a segment
    # shorter than the delay holds: the gradient reaches back through the warm-up, as fit's does,
    # from the whole segment taken as one chunk (the state carried between chunks is cut from the
    # gradient). Behind a 300 ms delay the feedback stayed at 0 (ESR 0.14), with the first chunk's
    # gradient alone it reached 0.14 of 0.4 in 300 steps. Not beside a network, whose backward
    # pass through the warm-up (8 repeats of the delay) cost an LSTM-16 + Delay 14x per step.
    # Nor across processes: two forward passes with gradients for one backward pass stopped DDP
    # ("Expected to have finished reduction in the prior iteration").
    fitted_feedback = any(isinstance(m, Delay) and "feedback" not in m.knob_bindings for m in model.modules())
    beside_network = not _dsp_blocks_alone(model)
    feedback_from_warmup = fitted_feedback and not beside_network and world == 1
    if fitted_feedback and not feedback_from_warmup:
        where = "beside a network" if beside_network else f"over {world} processes"
        progress(f"note: {where} a Delay's feedback learns only from echoes inside a segment "
                 f"({config.tbptt_samples * config.chunks_per_segment} samples after the warm-up, which runs without "
                 "gradients): for a longer delay, fit the Delay's feedback alone first (neuralfx fit) and give it "
                 "in the template, or put it on a knob")
    chunks, chunk = ((1, config.tbptt_samples * config.chunks_per_segment) if feedback_from_warmup
                     else (config.chunks_per_segment, config.tbptt_samples))
    forward = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        forward = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    progress(f"training {sum(p.numel() for p in model.parameters())} parameters on {device}"
             f"{f' x {world} processes' if world > 1 else ''}, "
             f"{int(trained_samples.sum())} training samples at {sample_rate:g} Hz, learning rate "
             + (f"decaying along a cosine over {config.max_steps} steps" if cosine else "halved on plateaus"))
    done = _steps_spent(config, st.step) or _time_limit_spent(config, st.seconds) or _stopped_early(config, schedule, st)
    while not done:
        x, y, k = batch()
        model.train()
        # From the zero state, not the settled one the kernel starts from: the warm-up on the
        # segment's own audio sets the state, and settling every batch would cost more.
        with torch.set_grad_enabled(feedback_from_warmup):
            _, state = forward(x[:, :warmup], k[:, :, :warmup], model.zero_state())
        validated = False
        for c in range(chunks):
            lo = warmup + c * chunk
            hi = lo + chunk
            prediction, state = forward(x[:, lo:hi], k[:, :, lo:hi], state)
            loss = loss_fn(prediction, y[:, lo:hi])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            step(optimizer, model)
            if cosine:
                scheduler.step()
            state = _detach(state)
            running.append(loss.item())
            st.step += 1
            out_of_time = _time_limit_spent(config, time.monotonic() - t0)
            if config.max_seconds and world > 1:  # rank 0's clock decides, or ranks stop at different steps
                out_of_time = _broadcast(float(out_of_time), world, device) > 0.5
            if st.step % config.validate_every == 0 or _steps_spent(config, st.step) or out_of_time:
                validated = True
                model.eval()
                model.cpu()
                checked = validate(model, captures, held) if rank == 0 else None
                val_esr = _broadcast(checked.esr if checked else math.nan, world, device)
                val_stft = _broadcast(checked.stft if checked else math.nan, world, device)
                model.to(device)
                st.seconds = time.monotonic() - t0
                st.history.append({"step": st.step, "seconds": st.seconds, "train_loss": float(np.mean(running)),
                                   "validation_esr": val_esr, "validation_stft": val_stft})
                running = []
                improved = val_esr < st.best_esr
                if improved:
                    st.best_esr, st.best_stft, st.best_state, st.stale = val_esr, val_stft, copy.deepcopy(model.state_dict()), 0
                    st.best_esr_per_capture = checked.esr_per_capture if checked else []
                else:
                    st.stale += 1
                if not cosine:
                    scheduler.step(val_esr)
                progress(f"step {st.step:5d}  {st.seconds:6.0f}s  train loss {st.history[-1]['train_loss']:.4f}  "
                         f"validation ESR {esr_text(val_esr)}{'  *' if improved else ''}")
                if _stopped_early(config, schedule, st):
                    progress(f"early stop: no improvement in {config.patience} validations")
                    done = True
                if not math.isfinite(val_esr):
                    raise RuntimeError("training diverged (validation ESR is not finite): lower learning_rate")
            if _steps_spent(config, st.step) or out_of_time:
                done = True
            if done:
                break
        # Checkpoints fall on segment boundaries, where the sampler's state is all there is to
        # restore: a resumed run continues exactly as an uninterrupted one would. The end of a run
        # is saved wherever it falls, so that a longer run can go on from it; one that ended
        # inside a segment goes on with a new segment, not bit for bit as an uninterrupted run.
        boundary = c == chunks - 1
        if config.checkpoint and rank == 0 and ((validated and boundary) or done):
            st.mid_segment = not boundary
            _save_checkpoint(Path(config.checkpoint), model, optimizer, scheduler, rng, st, schedule, settings)
    model.load_state_dict(st.best_state)
    model.cpu().eval()
    seconds = time.monotonic() - t0
    best_step = _best_step(st.history)
    progress(f"best validation ESR {esr_text(st.best_esr)} after {st.step} steps, {seconds:.0f} s"
             + (f" (the weights kept are step {best_step}'s)" if best_step not in (None, st.step) else ""))
    if cosine and not _steps_spent(config, st.step):
        share = scheduler.get_last_lr()[0] / scheduler.base_lrs[0]
        progress(f"note: the time limit ended the cosine at step {st.step} of {config.max_steps}, the learning rate "
                 f"still {share:.0%} of its start, so the model did not settle: raise the time limit (--max-minutes, "
                 "max_seconds) or lower the steps to what fits in it")
    per_capture = st.best_esr_per_capture if len(captures) > 1 else []
    if per_capture:  # the pooled ESR weighs each capture by its energy, which hides a poor quiet setting
        progress("validation ESR per capture (the pooled one weighs loud captures most): " + "; ".join(
            f"{i}{f' ({_settings_text(c.settings)})' if c.settings else ''}: {esr_text(v)}"
            for i, (c, v) in enumerate(zip(captures, per_capture))))
    heldout_esr = score_settings(model, heldout) if rank == 0 else {}
    for key, value in heldout_esr.items():
        progress(f"held-out setting {_settings_text(json.loads(key))}: ESR {esr_text(value)}")
    if started_distributed:
        import torch.distributed as dist

        # Once in a full test run (of some 15 runs of the torchrun test) rank 0 aborted at the end
        # with "terminate called without an active exception", a gloo thread torn down under it.
        # So: DDP's reducer, which holds work of the group, goes first, and the ranks leave the
        # group together instead of rank 1 tearing down while rank 0 still scores.
        del forward
        dist.barrier()
        dist.destroy_process_group()
    return TrainResult(model, st.best_esr, st.best_stft, st.step, seconds, st.history, alignments, heldout_esr,
                       model_given, per_capture, held, schedule, measured=measured, dsp_lr_scale=dsp_scale)


def _best_step(history: Sequence[dict]) -> Optional[int]:
    """The step of the first best validation (the weights train keeps); None before any."""
    return min(history, key=lambda h: h["validation_esr"])["step"] if history else None


@dataclass
class _Progress:
    """Everything about a training run besides model, optimizer and sampler: what a checkpoint holds."""

    step: int = 0
    seconds: float = 0.0
    best_esr: float = math.inf
    best_stft: float = math.inf
    best_state: Optional[dict] = None
    best_esr_per_capture: list = field(default_factory=list)  # of the best weights, in capture order
    stale: int = 0
    history: list = field(default_factory=list)
    mid_segment: bool = False  # saved where a run ended inside a segment
    data: str = ""  # the run's fingerprint (_run_fingerprints)


def _dsp_blocks_alone(model: Model) -> bool:
    """Whether every trainable weight of the model is a DSP block's parameter (no network)."""
    dsp = dsp_weight_ids(model)
    return all(id(p) in dsp for p in model.parameters())


def _dsp_lr_scale(config: TrainConfig, model: Model) -> float:
    """The DSP step scale the run takes (config.dsp_lr_scale with None resolved)."""
    return resolve_dsp_lr_scale(config.dsp_lr_scale, _dsp_blocks_alone(model))


def _schedule(config: TrainConfig, model: Model) -> str:
    """The learning-rate schedule the run takes (config.lr_schedule with "auto" resolved)."""
    return resolve_schedule(config.lr_schedule, config.max_steps, config.max_seconds, _dsp_blocks_alone(model))


_SCHEDULE_REASONS = {"cosine": "lr_schedule 'cosine', or 'auto' for DSP blocks alone with a step limit alone",
                     "plateau": "lr_schedule 'plateau', or 'auto' for a network or a run with a time limit"}


def _run_fingerprints(captures: Sequence[Capture], model: Model, config: TrainConfig, held: Holdout,
                      dsp_scale: float, settings: dict[str, Any]) -> tuple[str, str]:
    """Digests of what a checkpoint must match to be resumed: the (aligned) audio and knob
    settings trained on and held out, the model's blocks and configs (a template's grey-box chain
    with another band mode has weights of the same shapes), and the step settings its optimizer
    state was made for (settings, _resume_settings' of the run; dsp_scale: the DSP step scale taken). This run's, then
    the one checkpoints made before 2026-12-02 carry, of learning_rate and dsp_lr_scale alone of
    the step settings. The audio is hashed once for both."""
    audio = hashlib.sha256()
    for c in captures:
        audio.update(np.ascontiguousarray(c.pair.input, np.float32).tobytes())
        audio.update(np.ascontiguousarray(c.pair.target, np.float32).tobytes())
        audio.update(json.dumps(c.settings, sort_keys=True).encode())
    layout = {"blocks": [[b.type_name, b.config()] for b in model.blocks], "knobs": [k.name for k in model.knobs],
              "held_out": held.to_json()}  # the split made, which depends on the segment length too

    def digest(steps: dict[str, Any]) -> str:
        d = audio.copy()
        d.update(json.dumps({**layout, **steps}, sort_keys=True, default=str).encode())
        return d.hexdigest()

    return (digest({"settings": settings}),
            digest({"learning_rate": config.learning_rate, "dsp_lr_scale": dsp_scale}))


def _resume_settings(config: TrainConfig, dsp_scale: float) -> dict[str, Any]:
    """The TrainConfig entries a resumed run must share with the checkpoint's: they shape each
    step, and the model file records them as the run's (a resumed run took a changed batch size,
    loss or seed without a word, and its file then named those for the steps before too). The
    limits (max_steps, max_seconds, patience) may change: a run goes on by raising them."""
    return {"learning_rate": float(config.learning_rate), "dsp_lr_scale": float(dsp_scale),
            "batch_size": config.batch_size, "warmup_samples": config.warmup_samples,
            "tbptt_samples": config.tbptt_samples, "chunks_per_segment": config.chunks_per_segment,
            "loss": {k: float(v) for k, v in asdict(config.loss).items()},  # 1 and 1.0 are one weight
            "seed": config.seed, "validate_every": config.validate_every}


def _save_checkpoint(path: Path, model, optimizer, scheduler, rng: np.random.Generator, st: _Progress,
                     schedule: str, settings: dict[str, Any]) -> None:
    # torch.save (tensors and plain containers only; loaded with weights_only=True). Checkpoints
    # are training state, never shipped: models ship as .nfx files.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "numpy_rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "model_layout": _model_layout(model), "lr_schedule": schedule, "settings": settings,
                "progress": {f.name: getattr(st, f.name) for f in fields(st)}}, tmp)
    os.replace(tmp, path)


def _model_layout(model: Model) -> str:
    """The model's blocks in a line, for a message about a checkpoint made for another."""
    def one(block: torch.nn.Module) -> str:
        config = {k: v for k, v in block.config().items() if k not in ("sample_rate", "conditioning")}
        return f"{block.type_name}({', '.join(f'{k}={json.dumps(v)}' for k, v in config.items())})"

    return " -> ".join(one(b) for b in model.blocks)


def _load_checkpoint(path: Path, model, optimizer, scheduler, rng: np.random.Generator, expected: tuple[str, str],
                     schedule: str, settings: dict[str, Any]) -> _Progress:
    """Resumes from `path`, first checking it was made for this run (`expected`: _run_fingerprints,
    this run's and the one of a checkpoint made before the step settings were recorded) on the same
    learning-rate schedule (`schedule`, resolved) and step settings (`settings`: _resume_settings,
    named in the message where they differ)."""
    not_one = (f"checkpoint '{path}' is not a neuralfx training checkpoint (a model file, another file, or a "
               "checkpoint cut short): give --checkpoint (TrainConfig.checkpoint) a path of its own")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError:  # the file may be right; the user fixes the access
        raise
    except Exception:  # torch's errors for a model file, text, a cut-off zip: tracebacks telling of pickle
        raise ValueError(not_one) from None
    if not isinstance(data, dict) or not isinstance(data.get("progress"), dict):
        raise ValueError(not_one)
    made_for = data["progress"].get("data", "")
    if not made_for:  # its best ESR was validated on other audio (each capture's end)
        raise ValueError(f"checkpoint '{path}' was made by an older neuralfx, which validated on other audio: delete "
                         "it, or give this run another checkpoint path")
    if made_for not in expected:
        layout, ours = data.get("model_layout"), _model_layout(model)
        made_with = data.get("settings") or {}
        changed = [k for k in settings if k in made_with and made_with[k] != settings[k]]
        what = (f"it was made for {layout}, this run trains {ours}" if layout and layout != ours else
                "it was made with " + ", ".join(f"{k} {made_with[k]}" for k in changed) + "; this run has "
                + ", ".join(f"{k} {settings[k]}" for k in changed) if changed else
                "other captures, knob settings or alignment, other blocks or configs, other held-out audio "
                "(validation_fraction, validation_span_seconds, or a segment length that changed the spans), or "
                "another learning_rate, dsp_lr_scale, batch_size, loss, seed, warmup_samples, tbptt_samples, "
                "chunks_per_segment or validate_every")
        raise ValueError(f"checkpoint '{path}' was trained on other data or another model ({what}): delete it, or "
                         "give this run another checkpoint path")
    made_on = data.get("lr_schedule", "plateau")  # the only schedule before the choice existed
    if made_on != schedule:
        raise ValueError(f"checkpoint '{path}' was made on the {made_on} learning-rate schedule and this run takes the "
                         f"{schedule} one ({_SCHEDULE_REASONS[schedule]}): resume it with lr_schedule "
                         f"'{made_on}' (--lr-schedule {made_on}{' and a step limit' if made_on == 'cosine' else ''}), or "
                         "give this run another checkpoint path")
    try:
        model.load_state_dict(data["model"])
    except RuntimeError as e:
        raise ValueError(f"checkpoint '{path}' is for another model shape ({e}); delete it or change --checkpoint") from None
    optimizer.load_state_dict(data["optimizer"])
    scheduler.load_state_dict(data["scheduler"])
    resume_rates(optimizer, scheduler, made_on)
    rng.bit_generator.state = data["numpy_rng"]
    torch.set_rng_state(data["torch_rng"])
    return _Progress(**data["progress"])


def _quiet(message: str) -> None:
    """Progress sink of ranks other than 0: one process reports."""


def _detach(state):
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, (list, tuple)):
        return type(state)(_detach(s) for s in state)
    if isinstance(state, dict):  # DSP blocks with parts (the Waveshaper's tone filters)
        return {k: _detach(v) for k, v in state.items()}
    return state
