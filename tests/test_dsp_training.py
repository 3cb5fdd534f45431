"""The DSP blocks train: gradients flow through the exact biquad recursion (torchlpc), so
gradient descent recovers known filter and waveshaper settings from input/target pairs.

The target comes from the same block type at other settings (a fit of known parameters is
the only way to assert *where* training must land); the reference tests check separately
that those blocks are the cookbook's filters."""

from __future__ import annotations

import torch

from neuralfx.dsp import Biquad, ParametricEQ, Waveshaper


def fit(module: torch.nn.Module, target: torch.nn.Module, groups: list[dict], steps: int, x: torch.Tensor) -> float:
    with torch.no_grad():
        y_target, _ = target(x)
    opt = torch.optim.Adam(groups)
    for _ in range(steps):
        opt.zero_grad()
        y, _ = module(x)
        loss = (y - y_target).pow(2).mean() / y_target.pow(2).mean()  # error-to-signal ratio
        loss.backward()
        opt.step()
    return float(loss.detach())


def test_biquad_recovers_peak_settings() -> None:
    torch.manual_seed(0)
    x = 0.3 * torch.randn(2, 4000)
    target = Biquad("peak", 48000, frequency=2000.0, gain_db=6.0, q=2.0)
    model = Biquad("peak", 48000, frequency=1000.0, gain_db=0.0, q=1.0)
    # Parameters are in physical units, so each gets a step size of its own scale (Hz, dB, q).
    groups = [
        {"params": [model.frequency], "lr": 20.0},
        {"params": [model.gain_db], "lr": 0.2},
        {"params": [model.q], "lr": 0.05},
    ]
    esr = fit(model, target, groups, 130, x)
    assert esr < 1e-4
    # Within 2 % in frequency / q and 0.1 dB: far from the 1 kHz / 0 dB / q 1 start.
    assert abs(float(model.frequency.detach()) - 2000.0) < 40.0
    assert abs(float(model.gain_db.detach()) - 6.0) < 0.1
    assert abs(float(model.q.detach()) - 2.0) < 0.04


def test_eq_and_waveshaper_gradients_reach_every_parameter() -> None:
    torch.manual_seed(1)
    x = 0.3 * torch.randn(1, 2000)
    eq = ParametricEQ([{"mode": "lowshelf", "frequency": 200.0, "gain_db": 3.0}, {"mode": "peak", "gain_db": -4.0}])
    shaper = Waveshaper("softclip", 48000, drive_db=6.0, bias=0.1, pre={"mode": "highpass", "frequency": 100.0})
    for block in (eq, shaper):
        y, _ = block(x)
        y.pow(2).mean().backward()
        for name, p in block.named_parameters():
            if name.endswith("gain_db") and block is shaper:
                continue  # a highpass ignores gain_db (the cookbook's HPF has no gain term)
            assert p.grad is not None and torch.isfinite(p.grad).all() and float(p.grad.abs()) > 0, name


def test_waveshaper_recovers_drive_and_bias() -> None:
    torch.manual_seed(2)
    x = 0.5 * torch.randn(2, 3000)
    target = Waveshaper("tanh", 48000, drive_db=12.0, bias=0.3)
    model = Waveshaper("tanh", 48000, drive_db=0.0, bias=0.0)
    groups = [{"params": [model.drive_db], "lr": 0.3}, {"params": [model.bias], "lr": 0.02}]
    assert fit(model, target, groups, 150, x) < 1e-4
    assert abs(float(model.drive_db.detach()) - 12.0) < 0.1
    assert abs(float(model.bias.detach()) - 0.3) < 0.01
