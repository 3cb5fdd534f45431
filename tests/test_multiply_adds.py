"""The kernel's count of multiply-adds per sample (what neuralfx-bench sets against the CPU's
measured multiply-add rate) equals the entries of the torch twin's weight matrices and
convolution kernels: every parameter of two or more dimensions, counted by torch, not by the
kernel's own shape arithmetic. Biases, PReLU slopes and DSP blocks' scalars are one-dimensional
or scalar and count 0 on both sides."""

from __future__ import annotations

import pytest

import neuralfx
from neuralfx.knobs import Knob
from neuralfx.model import Model
from neuralfx.models import TCN, WaveNet
from neuralfx.presets import list_models, resolve_model

from conftest import RATE, effect_for, random_lstm_model


def torch_weight_entries(model: Model) -> int:
    return sum(p.numel() for p in model.parameters() if p.dim() >= 2)


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
@pytest.mark.parametrize("hidden,layers,knobs", [(32, 1, False), (16, 2, True), (36, 1, True)])
def test_recurrent_count_equals_torch_weights(cell: str, hidden: int, layers: int, knobs: bool) -> None:
    model = random_lstm_model(hidden, layers, knobs, cell=cell)
    gates = 4 if cell == "LSTM" else 3
    inputs = 1 + (2 if knobs else 0)
    by_hand = gates * hidden * (inputs + hidden) + (layers - 1) * gates * hidden * 2 * hidden + hidden
    assert torch_weight_entries(model) == by_hand  # the rule above holds for this twin
    assert effect_for(model).multiply_adds_per_sample == by_hand


def test_nam_standard_wavenet_count_is_the_issue_figure() -> None:
    """Issue 5 gives 13,320 multiply-adds per sample for NAM's standard WaveNet."""
    model = Model([WaveNet(head_scale=1.0)], RATE, []).eval()
    assert torch_weight_entries(model) == 13320
    assert effect_for(model).multiply_adds_per_sample == 13320


@pytest.mark.parametrize("knobs", [False, True])
@pytest.mark.parametrize("make", [
    lambda cond: WaveNet.preset("lite", conditioning=cond),
    lambda cond: WaveNet([5, 3], [2, 3], [[1, 3, 9], [2, 700]], head_scale=1.0, conditioning=cond),
    lambda cond: TCN(conditioning=cond),
    lambda cond: TCN(10, 5, [1, 10, 100, 1000], conditioning=cond),
], ids=["wavenet-lite", "wavenet-odd", "tcn", "tcn-odd"])
def test_conv_count_equals_torch_weights(make, knobs: bool) -> None:
    knob_list = [Knob("gain", 0.0, 10.0, 5.0), Knob("tone", -1.0, 1.0, 0.0)] if knobs else []
    model = Model([make([k.name for k in knob_list])], RATE, knob_list).eval()
    expected = torch_weight_entries(model)
    assert expected > 0
    assert effect_for(model).multiply_adds_per_sample == expected


@pytest.mark.parametrize("name", list_models())
def test_shipped_model_count_equals_torch_weights(name: str) -> None:
    """The shipped models mix DSP blocks with neural ones (the compressor is DSP blocks only):
    the DSP blocks add nothing."""
    path = resolve_model(name)
    expected = torch_weight_entries(Model.load(path))
    assert neuralfx.load(path).multiply_adds_per_sample == expected
