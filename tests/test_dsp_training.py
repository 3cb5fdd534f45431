"""The DSP blocks train: gradients flow through the exact biquad recursion (torchlpc), so
gradient descent recovers known filter and waveshaper settings from input/target pairs.

The target comes from the same block type at other settings (a fit of known parameters is
the only way to assert *where* training must land); the reference tests check separately
that those blocks are the cookbook's filters."""

from __future__ import annotations

import pytest
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


# ---- Delay: the feedback recursion trains in chunks, never a Python loop per sample ----
import math  # noqa: E402
import sys  # noqa: E402

from neuralfx.dsp import Delay  # noqa: E402

delay_module = sys.modules["neuralfx.dsp.delay"]  # the package's `delay` is the function


def test_delay_gradients_match_finite_differences() -> None:
    """The gradient w.r.t. the delay time flows through the interpolation weight; all three
    parameters' autograd gradients equal central differences (float64, fractional delay)."""
    torch.manual_seed(3)
    x = 0.3 * torch.randn(2, 3000, dtype=torch.float64)
    block = Delay(48000, 20.0, delay_ms=7.3, feedback=0.8, mix=0.6).double()

    def loss() -> torch.Tensor:
        return block(x)[0].pow(2).sum()

    loss().backward()
    for name in ("delay_ms", "feedback", "mix"):
        p = getattr(block, name)
        with torch.no_grad():
            p += 1e-6
            up = float(loss())
            p -= 2e-6
            down = float(loss())
            p += 1e-6
        numeric = (up - down) / 2e-6
        assert abs(float(p.grad) - numeric) <= 1e-4 * abs(numeric), name
        assert abs(numeric) > 1.0, name  # a gradient that matters, not a vanishing one


def test_delay_trains_on_long_batches_in_chunks_as_long_as_the_delay(monkeypatch) -> None:
    """10 s x batch 8 at a 300 ms delay (14400 samples) is 34 vectorized chunks, and the
    backward pass reaches every parameter."""
    plans: list[int] = []

    def recording(k_min):
        bounds = chunk_bounds(k_min)
        plans.append(len(bounds))
        return bounds

    chunk_bounds = delay_module.chunk_bounds
    monkeypatch.setattr(delay_module, "chunk_bounds", recording)
    samples = 10 * 48000
    x = 0.1 * torch.randn(8, samples)
    block = Delay(48000, 2000.0, delay_ms=300.0, feedback=0.7, mix=0.5)
    y, _ = block(x)
    y.pow(2).mean().backward()
    assert plans == [math.ceil(samples / 14400)]
    for name in ("delay_ms", "feedback", "mix"):
        grad = getattr(block, name).grad
        assert grad is not None and torch.isfinite(grad).all() and float(grad.abs()) > 0, name


def test_delay_recovers_feedback_mix_and_a_fractional_time() -> None:
    """Gradient descent lands on the time when it starts inside the same sample interval as
    the target (the interpolation weight's reach: across a whole-sample boundary the loss is
    a different piece), and on feedback and mix from far away."""
    torch.manual_seed(4)
    x = 0.3 * torch.randn(2, 6000)
    target = Delay(48000, 50.0, delay_ms=12.3, feedback=0.6, mix=0.4)  # 590.4 samples
    model = Delay(48000, 50.0, delay_ms=12.31, feedback=0.3, mix=0.7)  # 590.88: 0.48 samples long
    groups = [
        {"params": [model.delay_ms], "lr": 1e-3},
        {"params": [model.feedback], "lr": 0.01},
        {"params": [model.mix], "lr": 0.01},
    ]
    assert fit(model, target, groups, 150, x) < 1e-4
    assert abs(float(model.delay_ms.detach()) - 12.3) < 0.002  # 0.1 sample
    assert abs(float(model.feedback.detach()) - 0.6) < 0.01
    assert abs(float(model.mix.detach()) - 0.4) < 0.01


def test_step_moves_frequencies_times_and_ratios_by_a_ratio_and_levels_by_a_share_of_their_range() -> None:
    """Adam's first step is lr in its units whatever the gradient's size, so after one
    `params.step`: a log-stepped weight (frequency, q, attack, release, ratio) has moved by the
    factor exp(lr * ln(max / min)) wherever it started; a linear one (a level in dB) by lr times
    its range."""
    import math

    from neuralfx.dsp import Compressor
    from neuralfx.dsp.biquad import frequency_spec
    from neuralfx.dsp.params import optimizer_groups, step

    lr = 0.01
    x = 0.3 * torch.randn(1, 2000, generator=torch.Generator().manual_seed(0))
    for start in (100.0, 8000.0):
        model = torch.nn.Sequential(Biquad("peak", 48000, frequency=start, gain_db=6.0, q=2.0),
                                    Compressor(threshold_db=-30.0, ratio=4.0, attack_ms=5.0, release_ms=100.0))
        before = {name: float(p.detach()) for name, p in model.named_parameters()}
        opt = torch.optim.Adam(optimizer_groups(model, lr))
        y = model[1](model[0](x)[0])[0]
        y.pow(2).mean().backward()
        step(opt, model)
        after = {name: float(p.detach()) for name, p in model.named_parameters()}
        f = frequency_spec(48000)
        expected_log = {"0.frequency": math.log(f.max / f.min), "0.q": math.log(20.0 / 0.1), "1.ratio": math.log(20.0),
                        "1.attack_ms": math.log(500.0 / 0.1), "1.release_ms": math.log(5000.0)}
        for name, span in expected_log.items():
            moved = abs(math.log(after[name] / before[name]))
            assert moved == pytest.approx(lr * span, rel=1e-3), name
        for name, span in {"0.gain_db": 48.0, "1.threshold_db": 80.0, "1.makeup_db": 48.0}.items():
            assert abs(after[name] - before[name]) == pytest.approx(lr * span, rel=1e-3), name


def test_step_follows_the_optimizers_groups_and_a_resumed_run_keeps_its_law() -> None:
    """step() log-steps the weights of the optimizer's groups marked log_steps, nothing else: a
    weight a fit holds (not in the optimizer) keeps its value and gradient. The mark is saved with
    the optimizer, so a resumed run steps as it started; a checkpoint from before log steps (groups
    without the mark, rates made for Hz) steps linearly, not by its Hz-sized rate in log units
    (which sent a 1 kHz frequency to the 20 Hz edge in one step)."""
    import math

    from neuralfx.dsp.params import optimizer_groups, step

    def one_step(optimizer_of) -> tuple[float, float, float]:
        model = torch.nn.Sequential(Biquad("peak", 48000, frequency=1000.0, gain_db=6.0, q=2.0))
        x = 0.3 * torch.randn(1, 2000, generator=torch.Generator().manual_seed(0))
        model[0](x)[0].pow(2).mean().backward()
        held_grad = float(model[0].q.grad)
        opt = optimizer_of(model)
        step(opt, model)
        return float(model[0].frequency.detach()), float(model[0].q.detach()), held_grad - float(model[0].q.grad)

    lr = 0.01
    span = math.log(0.49 * 48000 / 20.0)

    def without_q(model):  # the fit holds q: it is in no group
        return torch.optim.Adam([g for g in optimizer_groups(model, lr) if g["params"][0] is not model[0].q])

    frequency, q, grad_change = one_step(without_q)
    assert abs(math.log(frequency / 1000.0)) == pytest.approx(lr * span, rel=1e-3)
    assert q == 2.0 and grad_change == 0.0

    def resumed(model):  # a state dict round trip, as a checkpoint makes
        saved = torch.optim.Adam(optimizer_groups(model, lr)).state_dict()
        opt = torch.optim.Adam(optimizer_groups(model, lr))
        opt.load_state_dict(saved)
        return opt

    assert abs(math.log(one_step(resumed)[0] / 1000.0)) == pytest.approx(lr * span, rel=1e-3)

    def old_checkpoint(model):  # groups saved before log steps existed: linear rates, no mark
        old = [{"params": g["params"], "lr": lr * (0.49 * 48000 - 20.0)} for g in optimizer_groups(model, lr)]
        saved = torch.optim.Adam(old).state_dict()
        opt = torch.optim.Adam(optimizer_groups(model, lr))
        opt.load_state_dict(saved)
        return opt

    # rel 1e-2: the gradient per Hz is ~7e-6, against which Adam's eps (1e-8) shortens the step 0.15 %.
    assert abs(one_step(old_checkpoint)[0] - 1000.0) == pytest.approx(lr * (0.49 * 48000 - 20.0), rel=1e-2)
