"""Shared fixtures: real test signals and small random-weight models (torch + file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import neuralfx

from neuralfx.capture import _notes
from neuralfx.knobs import Knob
from neuralfx.model import Model
from neuralfx.models import GRU, LSTM

RATE = 48000


def sine(freq: float = 220.0, seconds: float = 0.5, level: float = 0.5, rate: float = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def sweep(seconds: float = 0.5, level: float = 0.7, rate: float = RATE) -> np.ndarray:
    from scipy.signal import chirp

    t = np.arange(int(seconds * rate)) / rate
    return (level * chirp(t, 20, t[-1], 20000, method="logarithmic")).astype(np.float32)


def noise(seconds: float = 0.5, level: float = 0.3, seed: int = 0, rate: float = RATE) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal(int(seconds * rate))).astype(np.float32)


def plucks(seconds: float = 0.5, seed: int = 0, rate: float = RATE) -> np.ndarray:
    x = _notes(seconds, rate, np.random.default_rng(seed), chords=True)
    return (0.8 * x / np.max(np.abs(x))).astype(np.float32)


SIGNALS = {"sine": sine, "sweep": sweep, "noise": noise, "plucks": plucks}


RECURRENT_CELLS = {"LSTM": LSTM, "GRU": GRU}


def random_lstm_model(hidden: int = 12, layers: int = 1, knobs: bool = False, seed: int = 0, cell: str = "LSTM") -> Model:
    """A recurrent amp model (LSTM by default) with random weights, knobs gain and tone if asked."""
    torch.manual_seed(seed)
    knob_list = [Knob("gain", 0.0, 10.0, 5.0), Knob("tone", -1.0, 1.0, 0.0)] if knobs else []
    block = RECURRENT_CELLS[cell](hidden, layers, conditioning=[k.name for k in knob_list], skip=True)
    with torch.no_grad():
        for p in block.parameters():  # larger than default init so the nonlinearity matters
            p.mul_(2.0)
    return Model([block], RATE, knob_list).eval()


def kernel_blocks(effect: neuralfx.NeuralEffect, audio: np.ndarray, block: int, knob_moves=None) -> np.ndarray:
    """Runs the kernel block by block, applying knob_moves[b] before block b (as a host would)."""
    core = effect._model
    core.prepare(1, block)
    out = []
    for b, start in enumerate(range(0, len(audio), block)):
        for name, value in (knob_moves[b] if knob_moves and b < len(knob_moves) else {}).items():
            effect.set_knob(name, value)
        out.append(core.process(audio[None, start : start + block])[0])
    return np.concatenate(out)


@pytest.fixture
def lstm_model() -> Model:
    return random_lstm_model()


@pytest.fixture
def lstm_model_path(tmp_path: Path, lstm_model: Model) -> Path:
    return lstm_model.save(tmp_path / "random_lstm.nfx", {"name": "random"})
