"""Parity of the recurrent blocks (LSTM, GRU): the C++ kernel equals the torch forward pass of the same model file, at every block
size, after reset, with knobs moving between blocks. Tolerance 1e-4 is the contract; float32
recurrences typically agree to ~1e-6 (test_lstm_reference.cpp prints the kernel's error against a
double-precision reference)."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pytest
import torch

from conftest import (SIGNALS, TOLERANCE, assert_kernel_follows_gain_and_tone_moves,
                      assert_kernel_matches_at_every_block_size, effect_for, kernel_errors_with_simd_copy,
                      python_child, random_lstm_model)


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("signal", sorted(SIGNALS))
def test_recurrent_matches_torch_at_every_block_size(cell: str, layers: int, signal: str) -> None:
    model = random_lstm_model(hidden=16, layers=layers, cell=cell)
    x = SIGNALS[signal](seconds=0.2)
    with torch.no_grad():
        reference = model(torch.from_numpy(x)[None])[0][0].numpy()
    assert np.max(np.abs(reference - x)) > 1e-2, "the model must change the signal for the test to mean anything"
    assert_kernel_matches_at_every_block_size(model, x, reference)


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_knob_conditioned_recurrent_matches_torch_with_knob_moves(cell: str) -> None:
    model = random_lstm_model(hidden=12, knobs=True, cell=cell)
    x = SIGNALS["plucks"](seconds=0.3)
    assert_kernel_follows_gain_and_tone_moves(model, x)


def test_stereo_channels_are_independent_and_equal_to_mono() -> None:
    model = random_lstm_model()
    left, right = SIGNALS["sweep"](seconds=0.2), SIGNALS["noise"](seconds=0.2)
    effect = effect_for(model)
    stereo = effect(np.stack([left, right]), 48000)
    assert np.array_equal(stereo[0], effect(left, 48000))
    assert np.array_equal(stereo[1], effect(right, 48000))


@pytest.mark.parametrize("simd", ["baseline", "avx2-wide16"])
def test_every_compiled_copy_of_the_recurrent_loop_matches_torch(simd: str, tmp_path) -> None:
    """The recurrent hot loop's other compiled copies (cpu_dispatch.hpp) against torch: the baseline
    copy, and the AVX-512 copy's 16-lane layout compiled for AVX2. Hidden sizes: one group (12),
    a compile-time size (32) and a run-time one (33), one and two layers."""
    x = SIGNALS["plucks"](seconds=0.1)
    models = {f"{cell}-{hidden}-{layers}": random_lstm_model(hidden=hidden, layers=layers, cell=cell, seed=hidden)
              for cell in ("LSTM", "GRU") for hidden, layers in ((12, 1), (32, 2), (33, 1))}
    errors = kernel_errors_with_simd_copy(models, x, simd, tmp_path)
    assert max(errors.values()) <= TOLERANCE, errors


def test_a_simd_override_the_dispatcher_ignores_is_reported() -> None:
    """NEURALFX_SIMD with a name the dispatcher does not know falls back to the CPU's choice;
    build_info() (which the bench prints) says so instead of staying silent."""
    def build_info(simd: Optional[str]) -> str:
        return python_child("import neuralfx; print(neuralfx._core.build_info())", [], simd)

    assert "NEURALFX_SIMD=avx512 is not one of baseline, avx2, avx2-wide16: ignored" in build_info("avx512")
    assert "NEURALFX_SIMD" not in build_info(None)
    assert "ignored" not in build_info("baseline")
