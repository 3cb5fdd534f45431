"""Declared parameter ranges and the knob binding shared by every DSP block.

Every DSP block follows the dasp-pytorch split: a pure function ``f(x, sample_rate, *params)``
in physical units, and a thin module that owns the parameters. Parameters are stored as
weights in physical units (``gain_db`` in dB, ``frequency`` in Hz), shape ``[1]``, so a model
file reads as the settings it holds.

A parameter may instead be *bound* to a model knob: config ``{"knobs": {"gain_db": "volume"}}``.
The knob's smoothed, normalized 0..1 value t maps onto the parameter's declared range as
``min + t * (max - min)``, computed in float64 on both sides (twin:
cpp/include/neuralfx/dsp/params.hpp). Because of that mapping, the knob must be declared
with the parameter's range (the C++ loader rejects a knob whose range differs), so the knob
reads in the parameter's units. A bound parameter's weight is kept in the file (the schema
does not depend on bindings) but is not used. The same 0..1 interface lets a network drive
any block: feed its outputs as knob rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from ..errors import ModelFileError
from ..knobs import Ranged


@dataclass(frozen=True)
class ParamSpec(Ranged):
    """A block parameter: name (= weight name), range and default in physical units.

    log_steps: training steps it in log space (a frequency, a time, a ratio: what is heard is
    the value's ratio to where it was, so a fixed step in Hz is a semitone at 4 kHz and an
    octave at 100 Hz). Only the optimizer sees this; knobs map onto the range linearly."""

    log_steps: bool = False

    kind: ClassVar[str] = "parameter"

    def __post_init__(self) -> None:
        if self.log_steps and not self.min > 0.0:
            raise ValueError(f"{self.describe()}: a log-stepped range must be positive")

    def denormalize(self, t: Tensor) -> Tensor:
        """Normalized 0..1 -> physical units, in float64 (the C++ twin uses double too)."""
        return self.min + t.to(torch.float64).clamp(0.0, 1.0) * (self.max - self.min)


class ParamBlock(nn.Module):
    """Base for DSP blocks: parameters as ``[1]``-shaped weights, optional knob bindings.

    Subclasses define ``param_specs()`` and ``_process(x, values, state)``, where ``values``
    maps each parameter name to a float64 tensor broadcastable to (batch, samples)."""

    type_name: ClassVar[str] = ""

    def __init__(self, knobs: Optional[Mapping[str, str]] = None, values: Optional[Mapping[str, float]] = None) -> None:
        super().__init__()
        specs = {s.name: s for s in self.param_specs()}
        values = dict(values or {})
        unknown = set(values) - set(specs)
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown parameter(s) {sorted(unknown)}; known: {sorted(specs)}")
        for spec in self.param_specs():
            value = spec.check(values.get(spec.name, spec.default))
            self.register_parameter(spec.name, nn.Parameter(torch.tensor([value], dtype=torch.float32)))
        self.knob_bindings: dict[str, str] = {}
        if knobs is not None and not isinstance(knobs, Mapping):  # a list raised "dictionary update sequence"
            raise ValueError(f"{type(self).__name__}.knobs: expected {{parameter: knob name}}, e.g. "
                             f"{{\"{self.param_specs()[0].name}\": \"volume\"}}, not {knobs!r}")
        for param, knob in dict(knobs or {}).items():
            if param not in specs:
                raise ValueError(f"{type(self).__name__}.knobs: '{param}' is not a parameter (known: {sorted(specs)})")
            if not isinstance(knob, str) or not knob:
                raise ValueError(f"{type(self).__name__}.knobs.{param}: expected a knob name")
            self.knob_bindings[param] = knob
        # Filled by neuralfx.model.Model (via `conditioning`): where each bound knob sits.
        self.register_buffer("knob_index", torch.zeros(len(self.conditioning), dtype=torch.long), persistent=False)
        # Exported values are the values forward() uses (clamped into range), and loaded
        # values out of range are rejected with the parameter's name and range.
        self.register_state_dict_post_hook(_clamp_on_export)
        self.register_load_state_dict_pre_hook(_check_on_load)

    # ---- to override ----
    def param_specs(self) -> Sequence[ParamSpec]:
        raise NotImplementedError

    def format_version(self) -> int:
        """The oldest model-file version whose readers run this block as configured (see
        neuralfx.modelfile); inner blocks answer for themselves."""
        return 1

    def _process(self, x: Tensor, values: dict[str, Tensor], state: Any) -> tuple[Tensor, Any]:
        raise NotImplementedError

    # ---- the knob binding, identical for every block ----
    @property
    def conditioning(self) -> list[str]:
        """Bound knob names, in parameter order (the order of knob_index)."""
        return [self.knob_bindings[s.name] for s in self.param_specs() if s.name in self.knob_bindings]

    def binding_config(self) -> dict[str, Any]:
        return {"knobs": dict(self.knob_bindings)} if self.knob_bindings else {}

    def parameter_values(self, knobs: Optional[Tensor], knob_index: Optional[Tensor] = None) -> dict[str, Tensor]:
        """float64 values per parameter: (1, 1) for a weight, (batch, samples) for a bound knob."""
        knob_index = self.knob_index if knob_index is None else knob_index
        out: dict[str, Tensor] = {}
        slot = 0
        for spec in self.param_specs():
            if spec.name in self.knob_bindings:
                if knobs is None:
                    raise ValueError(f"{type(self).__name__}: parameter '{spec.name}' is bound to a knob; pass knobs")
                out[spec.name] = spec.denormalize(knobs[:, int(knob_index[slot]), :])
                slot += 1
            else:
                weight = getattr(self, spec.name)
                out[spec.name] = weight.to(torch.float64).clamp(spec.min, spec.max).view(1, 1)
        return out

    def forward(self, x: Tensor, knobs: Optional[Tensor] = None, state: Any = None) -> tuple[Tensor, Any]:
        """x: (batch, samples); knobs: (batch, all_knobs, samples) normalized 0..1."""
        return self._process(x, self.parameter_values(knobs), state)


def optimizer_groups(model: nn.Module, lr: float, dsp_scale: float = 1.0,
                     own_rates: Optional[Mapping[int, float]] = None) -> list[dict[str, Any]]:
    """Adam parameter groups: neural weights step by `lr`; each free DSP parameter moves by `lr`
    times `dsp_scale` of its declared range per step, so Hz, dB and ms move at comparable rates
    (the normalized 0..1 interface applied to the weights), or at its own rate in `own_rates`
    (id(weight) -> rate: a measured Delay time, delay.refine_rates). A log-stepped parameter's
    range is measured in log units and its group marked ``log_steps`` (``step`` steps it in log
    space; the mark travels in the optimizer's state dict, so a resumed run keeps the law it
    started with). Knob-bound parameters are left out: the knob sets them."""
    groups = []
    for module in model.modules():
        if isinstance(module, ParamBlock):
            for spec in module.param_specs():
                if spec.name not in module.knob_bindings:
                    weight = getattr(module, spec.name)
                    span = math.log(spec.max / spec.min) if spec.log_steps else spec.max - spec.min
                    rate = (own_rates or {}).get(id(weight), lr * dsp_scale * span)
                    groups.append({"params": [weight], "lr": rate, "log_steps": spec.log_steps})
    dsp = dsp_weight_ids(model)
    neural = [p for p in model.parameters() if id(p) not in dsp]
    return ([{"params": neural, "lr": lr}] if neural else []) + groups


def dsp_weight_ids(model: nn.Module) -> set[int]:
    """id() of every DSP parameter weight in `model` (knob-bound ones included): the rest of its
    parameters are networks' weights."""
    return {id(getattr(module, spec.name)) for module in model.modules() if isinstance(module, ParamBlock)
            for spec in module.param_specs()}


@torch.no_grad()
def step(optimizer: torch.optim.Optimizer, model: nn.Module) -> None:
    """optimizer.step() for groups from optimizer_groups: the weights of groups marked log_steps
    take their step in log space (the weight holds log(value) and its gradient d/dlog(value) =
    value d/dvalue for the step, so Adam's moments live in log units), then every DSP weight is
    kept in range. Groups without the mark (a checkpoint from before log steps) step linearly, as
    their learning rates and moments were made for."""
    logged = [w for group in optimizer.param_groups if group.get("log_steps") for w in group["params"]
              if w.grad is not None]
    for weight in logged:  # in range, so positive: keep_in_range ran after the previous step
        weight.grad.mul_(weight)
        weight.log_()
    optimizer.step()
    for weight in logged:
        weight.exp_()
    keep_in_range(model)


@torch.no_grad()
def keep_in_range(model: nn.Module) -> None:
    """Puts every DSP weight an optimizer step pushed out of its declared range back on its edge.
    Outside it the value is clamped, so its gradient is zero and the weight could never return: a
    low-shelf fit ended at q = -1.01 and 3.9 kHz for a 250 Hz shelf, and reported it as q 0.1."""
    for module in model.modules():
        if isinstance(module, ParamBlock):
            for spec in module.param_specs():
                getattr(module, spec.name).clamp_(spec.min, spec.max)


def _clamp_on_export(module: nn.Module, state_dict: dict, prefix: str, local_metadata: Any) -> None:
    for spec in module.param_specs():
        key = prefix + spec.name
        if key in state_dict:
            state_dict[key] = state_dict[key].clamp(spec.min, spec.max)


class WeightRangeError(ModelFileError):
    """A DSP weight outside its parameter's range: `weight` is its name in the state dict loaded
    (a model file's reader puts the block's path before it), `problem` what is wrong, worded as
    the kernel's reader words it."""

    def __init__(self, module: nn.Module, weight: str, spec: ParamSpec, value: float) -> None:
        self.weight = weight
        self.problem = (f"parameter '{spec.name}' = {value:g} is outside [{spec.min:g}, {spec.max:g}]"
                        + (f" {spec.unit}" if spec.unit else ""))
        super().__init__(f"{type(module).__name__} weight '{weight}': {self.problem}")


def _check_on_load(module: nn.Module, state_dict: dict, prefix: str, *args: Any) -> None:
    for spec in module.param_specs():
        key = prefix + spec.name
        if key in state_dict:
            value = state_dict[key].reshape(-1)
            # A file (or state dict) holding a value the block cannot use; NaN fails the test too.
            if value.numel() == 1 and not spec.min <= float(value[0]) <= spec.max:
                raise WeightRangeError(module, key, spec, float(value[0]))
