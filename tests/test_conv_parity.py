"""Parity of the convolutional blocks (WaveNet, TCN): the C++ kernel equals the torch forward pass
of the same model file at every block size, after reset, with knobs (FiLM) moving between blocks;
and the torch forward run block by block with state equals one call over the whole signal.
Tolerance 1e-4 is the contract; float32 sums in a different order typically agree to ~1e-6."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import neuralfx
from neuralfx.knobs import Knob
from neuralfx.model import Model
from neuralfx.models import TCN, WaveNet

from conftest import (RATE, SIGNALS, TOLERANCE, assert_kernel_follows_gain_and_tone_moves,
                      assert_kernel_matches_at_every_block_size, effect_for, kernel_blocks, kernel_errors_with_simd_copy)


# Layouts covering the compile-time-sized channel counts (16, 8, 12, 6) and run-time ones (5, 3,
# 10), kernels of 1 to 13 taps, and a dilation longer than a chunk of the kernel (700 > 128).
LAYOUTS = {
    "wavenet-standard": lambda cond: WaveNet(head_scale=1.0, conditioning=cond),
    "wavenet-lite": lambda cond: WaveNet.preset("lite", conditioning=cond),
    "wavenet-odd": lambda cond: WaveNet([5, 3], [2, 3], [[1, 3, 9], [2, 700]], head_scale=1.0, conditioning=cond),
    "wavenet-1x1": lambda cond: WaveNet([3], [1], [[1, 1]], head_scale=1.0, conditioning=cond),
    "tcn": lambda cond: TCN(conditioning=cond),
    "tcn-odd": lambda cond: TCN(10, 5, [1, 10, 100, 1000], conditioning=cond),
}


def conv_model(layout: str, knobs: bool = False, seed: int = 0) -> Model:
    """A random-weight model; FiLM gets random weights too (it starts as the identity), so the
    knobs change the sound."""
    torch.manual_seed(seed)
    knob_list = [Knob("gain", 0.0, 10.0, 5.0), Knob("tone", -1.0, 1.0, 0.0)] if knobs else []
    block = LAYOUTS[layout]([k.name for k in knob_list])
    if block.film is not None:
        with torch.no_grad():
            torch.nn.init.uniform_(block.film.linear.weight, -1.0, 1.0)
            torch.nn.init.uniform_(block.film.linear.bias, -0.2, 0.2)
    return Model([block], RATE, knob_list).eval()


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("signal", ["plucks", "sweep"])
def test_conv_matches_torch_at_every_block_size(layout: str, signal: str) -> None:
    model = conv_model(layout)
    x = SIGNALS[signal](seconds=0.2)
    with torch.no_grad():
        reference = model(torch.from_numpy(x)[None])[0][0].numpy()
    assert np.std(reference) > 1e-3, "the model must produce a signal for the test to mean anything"
    assert_kernel_matches_at_every_block_size(model, x, reference)


@pytest.mark.parametrize("layout", ["wavenet-standard", "wavenet-odd", "tcn", "tcn-odd"])
def test_film_conditioned_conv_matches_torch_with_knob_moves(layout: str) -> None:
    model = conv_model(layout, knobs=True)
    x = SIGNALS["plucks"](seconds=0.3)
    assert_kernel_follows_gain_and_tone_moves(model, x)


@pytest.mark.parametrize("layout", ["wavenet-standard", "wavenet-odd", "tcn"])
def test_torch_block_by_block_with_state_equals_whole_signal(layout: str) -> None:
    model = conv_model(layout, knobs=True)
    x = torch.from_numpy(SIGNALS["noise"](seconds=0.1))[None]
    knobs = model.knob_trajectory(x.shape[1], 333, [{"gain": 2.0}, {}, {"tone": 0.5}])
    with torch.no_grad():
        whole = model(x, knobs)[0]
        state, parts = None, []
        for start in range(0, x.shape[1], 333):  # 333: blocks shorter than the receptive field
            y, state = model(x[:, start : start + 333], knobs[:, :, start : start + 333], state)
            parts.append(y)
    # Not bit-exact: torch picks its convolution algorithm by length, so sums run in another order.
    assert torch.max(torch.abs(torch.cat(parts, dim=1) - whole)).item() <= 1e-5


def test_standard_layout_is_nams() -> None:
    """13,801 parameters and a receptive field of 4093 samples: NAM's published standard model."""
    block = WaveNet.preset("standard")
    assert sum(p.numel() for p in block.parameters()) == 13801
    assert block.receptive_field == 4093
    assert block.config()["channels"] == [16, 8]


def test_conv_is_causal_in_torch_and_the_kernel() -> None:
    """An impulse at sample 300 leaves the output before it untouched, in torch and the kernel."""
    for layout in ("wavenet-standard", "tcn"):
        model = conv_model(layout)
        silence, impulse = np.zeros(1000, np.float32), np.zeros(1000, np.float32)
        impulse[300] = 1.0
        effect = effect_for(model)
        runs = {"kernel": lambda x: kernel_blocks(effect, x, 64), "torch": lambda x: model.process_blocks(x, 64)}
        for where, run in runs.items():
            a, b = run(silence), run(impulse)
            assert np.array_equal(a[:300], b[:300]), (layout, where)
            assert np.max(np.abs(a[300:] - b[300:])) > 1e-4, (layout, where)


def test_bad_config_names_the_parameter() -> None:
    with pytest.raises(ValueError, match="kernel_sizes"):
        WaveNet([16, 8], [3], [[1], [1]])
    with pytest.raises(ValueError, match=r"dilations\[1\]"):
        WaveNet([16, 8], [3, 3], [[1], [0]])
    with pytest.raises(ValueError, match="channels"):
        TCN(channels=0)


def test_baseline_simd_copy_matches_torch(tmp_path) -> None:
    """The kernel's hot loops have a baseline copy besides the AVX2+FMA one (NEURALFX_SIMD=baseline)."""
    x = SIGNALS["plucks"](seconds=0.1)
    models = {layout: conv_model(layout, knobs=True) for layout in ("wavenet-standard", "wavenet-odd", "tcn")}
    errors = kernel_errors_with_simd_copy(models, x, "baseline", tmp_path)
    assert max(errors.values()) <= TOLERANCE, errors
