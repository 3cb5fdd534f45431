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
