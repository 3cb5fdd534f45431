"""Shared fixtures: real test signals and small random-weight models (torch + file)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, Optional

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


# The parity contract (DESIGN.md): the kernel matches torch within TOLERANCE at these block sizes.
BLOCK_SIZES = [1, 7, 64, 512, 4096]
TOLERANCE = 1e-4


def effect_for(model: Model) -> neuralfx.NeuralEffect:
    return neuralfx.NeuralEffect.from_json(model.to_modelfile().to_json())


def assert_kernel_matches_at_every_block_size(model: Model, x: np.ndarray, reference: np.ndarray) -> None:
    """The model file in the kernel reproduces `reference` at every block size, and again after reset()."""
    effect = effect_for(model)
    for block in BLOCK_SIZES:
        y = kernel_blocks(effect, x, block)
        assert np.max(np.abs(y - reference)) <= TOLERANCE, f"block {block}"
        # Again after reset(): the same output, so no state leaks between signals.
        effect._model.reset()
        y_again = effect._model.process(x[None])[0]
        assert np.max(np.abs(y_again - reference)) <= TOLERANCE, f"after reset, block {block}"


def python_child(script: str, args: list[str], simd: Optional[str]) -> str:
    """stdout of `python -c script args` in a child process that imports this checkout's neuralfx,
    with NEURALFX_SIMD set to `simd` (unset when None): the kernel picks its hot-loop copy once
    per process, so a forced copy needs a process of its own."""
    env = {k: v for k, v in os.environ.items() if k != "NEURALFX_SIMD"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(neuralfx.__file__).parent.parent),
                                                     os.environ.get("PYTHONPATH", "")) if p)
    if simd is not None:
        env["NEURALFX_SIMD"] = simd
    return subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True,
                          check=True).stdout


# What build_info() says when NEURALFX_SIMD forces each copy the tests run: the dispatcher
# falls back silently (an unknown name, or a CPU without AVX2), so the tests check what ran.
FORCED_COPY_REPORTS = {"baseline": "hot loops: baseline", "avx2-wide16": "in the avx512 layout (NEURALFX_SIMD=avx2-wide16)"}


def kernel_errors_with_simd_copy(models: dict, x: np.ndarray, simd: str, tmp_path: Path) -> dict:
    """Max |kernel - torch| per model, with the kernel's hot loops forced to the copy NEURALFX_SIMD
    names (cpu_dispatch.hpp), after checking that copy is the one that ran. The copy is picked
    once per process, so the kernel runs in a child process; torch's output (knobs at their
    defaults, blocks of 64) is computed here."""
    np.save(tmp_path / "x.npy", x)
    for name, model in models.items():
        model.save(tmp_path / f"{name}.nfx")
        np.save(tmp_path / f"{name}.npy", model.process_blocks(x, 64))
    script = (
        "import sys, numpy as np, neuralfx\n"
        "print('build', neuralfx._core.build_info())\n"
        "d = sys.argv[1]\n"
        "x = np.load(d + '/x.npy')\n"
        "for name in sys.argv[2:]:\n"
        "    e = neuralfx.load(d + '/' + name + '.nfx')\n"
        "    print(name, float(np.max(np.abs(e.process(x, 48000, buffer_size=64) - np.load(d + '/' + name + '.npy')))))\n"
    )
    build, *lines = python_child(script, [str(tmp_path), *models], simd).splitlines()
    if "needs AVX2+FMA" in build or "this build has one copy" in build:
        pytest.skip(f"NEURALFX_SIMD={simd}: a copy this build or CPU cannot run ({build})")
    assert FORCED_COPY_REPORTS[simd] in build, f"NEURALFX_SIMD={simd} did not run that copy: {build}"
    errors = {line.split()[0]: float(line.split()[1]) for line in lines}
    assert sorted(errors) == sorted(models), lines
    return errors


def assert_kernel_follows_gain_and_tone_moves(model: Model, x: np.ndarray) -> None:
    """A model conditioned on the knobs gain [0, 10] and tone [-1, 1]: torch and the kernel agree
    with both knobs moving between blocks, and the knobs really change the sound."""
    for block in BLOCK_SIZES:
        blocks = -(-len(x) // block)
        moves = [{} for _ in range(blocks)]
        moves[0] = {"gain": 1.0, "tone": -0.5}
        moves[blocks // 3] = {"gain": 9.0}
        moves[2 * blocks // 3] = {"tone": 0.8}
        reference = model.process_blocks(x, block, moves)
        y = kernel_blocks(effect_for(model), x, block, moves)
        assert np.max(np.abs(y - reference)) <= TOLERANCE, f"block {block}"
    # Each knob changes torch's output; the parity above then says the kernel follows it.
    for knob, lo, hi in (("gain", 0.0, 10.0), ("tone", -1.0, 1.0)):
        low, high = model.process_blocks(x, 512, [{knob: lo}]), model.process_blocks(x, 512, [{knob: hi}])
        assert np.max(np.abs(low - high)) > 1e-3, knob


def woke_during(work: Callable[[], object], while_inside: Callable[[], None] = lambda: None) -> bool:
    """Runs work() on another thread and says whether this thread ran again before work()
    returned, calling while_inside() at that moment. With a switch interval far longer than a
    test, a thread holding the GIL keeps it until it blocks or ends, so that can only happen while
    work() is inside a binding call that released the GIL. work() must return without raising."""
    started, done = threading.Event(), threading.Event()

    def run() -> None:
        started.set()
        work()
        done.set()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    thread = threading.Thread(target=run)
    try:
        thread.start()
        started.wait()
        woke = not done.is_set()
        if woke:
            while_inside()
    finally:
        sys.setswitchinterval(interval)
        thread.join()
    assert done.is_set(), "work() raised"
    return woke


@pytest.fixture
def lstm_model() -> Model:
    return random_lstm_model()


@pytest.fixture
def lstm_model_path(tmp_path: Path, lstm_model: Model) -> Path:
    return lstm_model.save(tmp_path / "random_lstm.nfx", {"name": "random"})
