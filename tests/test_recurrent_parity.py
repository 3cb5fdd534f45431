"""Parity of the recurrent blocks (LSTM, GRU): the C++ kernel equals the torch forward pass of the same model file, at every block
size, after reset, with knobs moving between blocks. Tolerance 1e-4 is the contract; float32
recurrences typically agree to ~1e-6, so the test also reports the observed error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import neuralfx
from neuralfx.model import Model

from conftest import SIGNALS, kernel_blocks, random_lstm_model

BLOCK_SIZES = [1, 7, 64, 512, 4096]
TOLERANCE = 1e-4


def effect_for(model: Model) -> neuralfx.NeuralEffect:
    return neuralfx.NeuralEffect.from_json(model.to_modelfile().to_json())


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("signal", sorted(SIGNALS))
def test_recurrent_matches_torch_at_every_block_size(cell: str, layers: int, signal: str) -> None:
    model = random_lstm_model(hidden=16, layers=layers, cell=cell)
    x = SIGNALS[signal](seconds=0.2)
    with torch.no_grad():
        reference = model(torch.from_numpy(x)[None])[0][0].numpy()
    assert np.max(np.abs(reference - x)) > 1e-2, "the model must change the signal for the test to mean anything"
    effect = effect_for(model)
    for block in BLOCK_SIZES:
        y = kernel_blocks(effect, x, block)
        assert np.max(np.abs(y - reference)) <= TOLERANCE, f"block {block}"
        # Again after reset(): the same output, so no state leaks between signals.
        effect._model.reset()
        y_again = effect._model.process(x[None])[0]
        assert np.max(np.abs(y_again - reference)) <= TOLERANCE, f"after reset, block {block}"


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_knob_conditioned_recurrent_matches_torch_with_knob_moves(cell: str) -> None:
    model = random_lstm_model(hidden=12, knobs=True, cell=cell)
    x = SIGNALS["plucks"](seconds=0.3)
    for block in BLOCK_SIZES:
        blocks = -(-len(x) // block)
        moves = [{} for _ in range(blocks)]
        moves[0] = {"gain": 1.0, "tone": -0.5}
        moves[blocks // 3] = {"gain": 9.0}
        moves[2 * blocks // 3] = {"tone": 0.8}
        reference = model.process_blocks(x, block, moves)
        effect = effect_for(model)
        y = kernel_blocks(effect, x, block, moves)
        assert np.max(np.abs(y - reference)) <= TOLERANCE, f"block {block}"
    # The knobs really condition the sound: different settings, different output.
    low = model.process_blocks(x, 512, [{"gain": 0.0}])
    high = model.process_blocks(x, 512, [{"gain": 10.0}])
    assert np.max(np.abs(low - high)) > 1e-3


def test_stereo_channels_are_independent_and_equal_to_mono() -> None:
    model = random_lstm_model()
    left, right = SIGNALS["sweep"](seconds=0.2), SIGNALS["noise"](seconds=0.2)
    effect = effect_for(model)
    stereo = effect(np.stack([left, right]), 48000)
    assert np.array_equal(stereo[0], effect(left, 48000))
    assert np.array_equal(stereo[1], effect(right, 48000))
