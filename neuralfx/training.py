"""Fitting a model to (input, target) captures.

Truncated back-propagation through time after Wright et al. (DAFx 2019): random segments, a
warm-up run without gradients to settle the recurrent state, then one optimizer step per
`tbptt_samples` chunk. Validation runs the exported model in the C++ kernel on held-out audio
(the last `validation_fraction` of every capture), so the recorded ESR is the one of the file
that ships. Early stopping keeps the best validated weights."""

from __future__ import annotations

import copy
import datetime as _dt
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from . import __version__
from .capture import CapturePair
from .knobs import Knob
from .losses import LossWeights, TrainingLoss, esr, stft_distance
from .model import Model
from .models.lstm import LSTM

# Samples of context fed before validation audio so the state has settled when scoring starts.
VALIDATION_WARMUP = 4096


@dataclass
class TrainConfig:
    hidden_size: int = 32
    num_layers: int = 1
    batch_size: int = 16
    warmup_samples: int = 1024
    tbptt_samples: int = 2048
    chunks_per_segment: int = 4
    learning_rate: float = 5e-3
    max_steps: int = 4000
    max_seconds: Optional[float] = None
    validation_fraction: float = 0.15
    validate_every: int = 100
    patience: int = 8
    loss: LossWeights = field(default_factory=LossWeights)
    seed: int = 0
    device: str = "auto"
    # CPU threads for torch. Small recurrent nets are bound by the per-sample dependency chain,
    # not arithmetic: one thread is as fast and avoids OpenMP spin-waiting on a busy machine
    # (measured here: 2 threads were 25x slower per step than 1 while other jobs ran).
    threads: Optional[int] = 1


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

    def metadata(self, trained_on: str, config: TrainConfig, name: str = "") -> dict:
        return {
            "name": name,
            "trained_on": trained_on,
            "validation_esr": self.validation_esr,
            "validation_stft": self.validation_stft,
            "train_steps": self.steps,
            "train_seconds": round(self.seconds, 1),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "neuralfx_version": __version__,
            "config": asdict(config),
        }


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def build_lstm_model(config: TrainConfig, sample_rate: float, knobs: Sequence[Knob] = ()) -> Model:
    block = LSTM(config.hidden_size, config.num_layers, conditioning=[k.name for k in knobs], skip=True)
    return Model([block], sample_rate, knobs)


def _split(capture: Capture, fraction: float) -> int:
    return int(len(capture.pair.input) * (1 - fraction))


def _check_captures(captures: Sequence[Capture], config: TrainConfig, knobs: Sequence[Knob]) -> float:
    if not captures:
        raise ValueError("no capture to train on")
    rates = {c.pair.sample_rate for c in captures}
    if len(rates) != 1:
        raise ValueError(f"captures have different sample rates {sorted(rates)}: record all at one rate")
    need = config.warmup_samples + config.tbptt_samples * config.chunks_per_segment
    for i, c in enumerate(captures):
        if len(c.pair.input) != len(c.pair.target):
            raise ValueError(f"capture {i}: input and target lengths differ")
        train_len = _split(c, config.validation_fraction)
        if train_len < need or len(c.pair.input) - train_len < 2048:
            raise ValueError(
                f"capture {i} is too short ({len(c.pair.input)} samples): training needs {need} samples plus "
                f"validation; record longer or lower tbptt_samples/chunks_per_segment"
            )
        for k in knobs:
            if k.name not in c.settings:
                raise ValueError(f"capture {i} has no setting for knob '{k.name}'")
            k.check(c.settings[k.name])
    return rates.pop()


def validate(model: Model, captures: Sequence[Capture], fraction: float) -> tuple[float, float, np.ndarray, np.ndarray]:
    """ESR and MR-STFT distance of the model, run in the C++ kernel, on every capture's held-out
    tail; also returns the concatenated prediction and target."""
    from .effects import NeuralEffect

    effect = NeuralEffect.from_json(model.to_modelfile().to_json())
    predictions, targets = [], []
    for c in captures:
        start = _split(c, fraction)
        for name, value in c.settings.items():
            effect.set_knob(name, value)
        context = max(0, start - VALIDATION_WARMUP)
        y = effect.process(c.pair.input[context:], model.sample_rate, reset=True)
        predictions.append(y[start - context :])
        targets.append(c.pair.target[start:])
    p, t = np.concatenate(predictions), np.concatenate(targets)
    pt, tt = torch.from_numpy(p), torch.from_numpy(t)
    return esr(pt, tt), stft_distance(pt, tt), p, t


def train(
    captures: Sequence[Capture],
    config: TrainConfig = TrainConfig(),
    knobs: Sequence[Knob] = (),
    model: Optional[Model] = None,
    progress: Callable[[str], None] = print,
) -> TrainResult:
    sample_rate = _check_captures(captures, config, knobs)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = pick_device(config.device)
    model = model if model is not None else build_lstm_model(config, sample_rate, knobs)
    model.to(device)
    loss_fn = TrainingLoss(config.loss, config.tbptt_samples).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=max(config.patience // 3, 1))

    inputs = [torch.from_numpy(c.pair.input) for c in captures]
    targets = [torch.from_numpy(c.pair.target) for c in captures]
    knob_values = [torch.tensor([k.normalize(c.settings[k.name]) for k in knobs], dtype=torch.float32) for c in captures]
    train_lengths = np.array([_split(c, config.validation_fraction) for c in captures], dtype=np.float64)
    segment = config.warmup_samples + config.tbptt_samples * config.chunks_per_segment

    def batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        which = rng.choice(len(captures), size=config.batch_size, p=train_lengths / train_lengths.sum())
        xs, ys, ks = [], [], []
        for w in which:
            start = int(rng.integers(0, int(train_lengths[w]) - segment + 1))
            xs.append(inputs[w][start : start + segment])
            ys.append(targets[w][start : start + segment])
            ks.append(knob_values[w])
        k = torch.stack(ks)[:, :, None].expand(-1, -1, segment)
        return torch.stack(xs).to(device), torch.stack(ys).to(device), k.to(device)

    best_esr, best_stft, best_state, stale = math.inf, math.inf, copy.deepcopy(model.state_dict()), 0
    history: list[dict[str, float]] = []
    step, t0, running = 0, time.monotonic(), []
    progress(f"training {sum(p.numel() for p in model.parameters())} parameters on {device}, "
             f"{int(train_lengths.sum())} training samples at {sample_rate:g} Hz")
    done = False
    while not done:
        x, y, k = batch()
        model.train()
        with torch.no_grad():
            _, state = model(x[:, : config.warmup_samples], k[:, :, : config.warmup_samples])
        for c in range(config.chunks_per_segment):
            lo = config.warmup_samples + c * config.tbptt_samples
            hi = lo + config.tbptt_samples
            prediction, state = model(x[:, lo:hi], k[:, :, lo:hi], state)
            loss = loss_fn(prediction, y[:, lo:hi])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            state = _detach(state)
            running.append(loss.item())
            step += 1
            out_of_time = bool(config.max_seconds) and time.monotonic() - t0 > config.max_seconds
            if step % config.validate_every == 0 or step >= config.max_steps or out_of_time:
                model.eval()
                model.cpu()
                val_esr, val_stft, _, _ = validate(model, captures, config.validation_fraction)
                model.to(device)
                elapsed = time.monotonic() - t0
                history.append({"step": step, "seconds": elapsed, "train_loss": float(np.mean(running)),
                                "validation_esr": val_esr, "validation_stft": val_stft})
                running = []
                improved = val_esr < best_esr
                if improved:
                    best_esr, best_stft, best_state, stale = val_esr, val_stft, copy.deepcopy(model.state_dict()), 0
                else:
                    stale += 1
                scheduler.step(val_esr)
                progress(f"step {step:5d}  {elapsed:6.0f}s  train loss {history[-1]['train_loss']:.4f}  "
                         f"validation ESR {val_esr:.5f}{'  *' if improved else ''}")
                if stale >= config.patience:
                    progress(f"early stop: no improvement in {config.patience} validations")
                    done = True
                if not math.isfinite(val_esr):
                    raise RuntimeError("training diverged (validation ESR is not finite): lower learning_rate")
            if step >= config.max_steps or out_of_time:
                done = True
            if done:
                break
    model.load_state_dict(best_state)
    model.cpu().eval()
    seconds = time.monotonic() - t0
    progress(f"best validation ESR {best_esr:.5f} after {step} steps, {seconds:.0f} s")
    return TrainResult(model, best_esr, best_stft, step, seconds, history)


def _detach(state):
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, (list, tuple)):
        return type(state)(_detach(s) for s in state)
    return state
