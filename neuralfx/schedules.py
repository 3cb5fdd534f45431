"""Learning-rate schedules of train(), named here without torch so that the CLI can offer them
before importing it."""

from __future__ import annotations

import math
from typing import Any

LR_SCHEDULES = ("auto", "plateau", "cosine")


def resolve_schedule(schedule: str, max_steps: int | None, max_seconds: float | None, dsp_only: bool) -> str:
    """"auto" is "cosine" for a chain of DSP blocks alone whose run ends at a step limit (a time
    limit would cut the cosine where the rate is still high), else "plateau".
    Measured (docs/DSP.md): a Compressor template trained 300 steps read validation ESR 3.7e-6 to
    8.6e-6 over seeds 0-3 on the plateau, its steps oscillating about the optimum (the plateau
    never acts in three validations), and 1.9e-11 to 7.1e-10 on the cosine. An LSTM-32 on the
    crunch_amp recipe's captures, 3000 steps, seeds 0-2, read 0.018-0.026 on the plateau and
    0.025-0.028 on the cosine, one seed 0.25 (stuck early): no gain for networks."""
    if schedule != "auto":
        return schedule
    return "cosine" if max_steps is not None and max_seconds is None and dsp_only else "plateau"


# A DSP parameter's step is learning_rate x this x its range. Beside a network 1 was too coarse
# (clean_amp's EQ bands ran to their range's edges, docs/DSP.md); for DSP blocks alone 2 makes the
# default learning_rate (5e-3) fit's own step, 0.01 of a range. Measured on 300-step runs of
# docs/DSP.md's templates (validation / held-out ESR): Pedalboard's Compressor over its threshold
# at 0.1, 1, 2, 4: 0.012 / 0.022, 7.1e-10 / 1.8e-10, 3.2e-9 / 1.2e-8, 4.7e-10 / 5.6e-10; its
# Delay over its mix (batch 16): 0.11 / 0.064, 3.9e-3 / 2.8e-3, 6.3e-9 / 1.5e-13, 6.3e-9 / 1.6e-12.
DSP_LR_SCALE_BESIDE_NETWORK = 0.1
DSP_LR_SCALE_ALONE = 2.0


def resolve_dsp_lr_scale(scale: float | None, dsp_only: bool) -> float:
    """The DSP step scale a run takes: `scale`, or for None DSP_LR_SCALE_ALONE for a chain of DSP
    blocks alone and DSP_LR_SCALE_BESIDE_NETWORK beside a network."""
    if scale is not None:
        return scale
    return DSP_LR_SCALE_ALONE if dsp_only else DSP_LR_SCALE_BESIDE_NETWORK


def learning_rate_scheduler(optimizer: Any, schedule: str, max_steps: int | None, patience: int) -> Any:
    """For a resolved schedule: "plateau" halves the rate after patience // 3 + 1 validations
    without improvement (stepped with the validation ESR). "cosine" decays it to 0 along a half
    cosine over max_steps (stepped after every optimizer step). The cosine's rate is a function of
    the step count and max_steps alone, so a run resumed with a larger max_steps goes on along the
    longer curve: from a finished run, the rate rises again from 0 (a warm restart)."""
    import torch

    if schedule == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda done: 0.5 * (1 + math.cos(math.pi * min(done / max_steps, 1))))
    return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=max(patience // 3, 1))


def resume_rates(optimizer: Any, scheduler: Any, schedule: str) -> None:
    """After a checkpoint's optimizer and scheduler states are loaded: the cosine's rates at the
    step reached, on this run's curve (the saved ones are of the saved max_steps)."""
    if schedule == "cosine":
        for group, base, rate in zip(optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas):
            group["lr"] = base * rate(scheduler.last_epoch)
