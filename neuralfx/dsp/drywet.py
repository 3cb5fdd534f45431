"""Dry/wet mix around a chain of inner blocks. C++ twin: cpp/include/neuralfx/dsp/drywet.hpp.

    y = (1 - mix) * x + mix * inner(x)        (float64, rounded to float32 once)

Named ``DryWet`` rather than ``Mix``: the block is defined by the two signals it blends, and
``mix`` is already the name of its parameter (and of Delay's), so "the mix of the Mix" would
be ambiguous in a config.

A model file stores it like any block: ``config = {"blocks": [{"type", "config"}, ...],
"knobs": {"mix": ...}}``; the inner blocks' weights sit in the DryWet's own ``weights`` under
their state-dict names, ``blocks.<i>.<name>`` (an inner entry holding its own "weights" is
rejected, so a weight has one place). Inner blocks may be of any registered type, DSP or
neural, including another DryWet. Each inner block sees only its own knobs: DryWet passes it
the rows of its ``conditioning``, in order.

Latency: the dry path is not delayed. An inner block that reports latency (a torch block's
``latency_samples`` attribute, a C++ block's latency_samples()) is rejected with a message,
because dry and wet would no longer line up. No block reports latency today.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from ..errors import ModelFileError
from .eq import split_knob_index
from .params import ParamBlock, ParamSpec

MIX = ParamSpec("mix", 0.0, 1.0, 0.5, "")
MAX_INNER_BLOCKS = 64


def dry_wet(dry: Tensor, wet: Tensor, mix: Tensor) -> Tensor:
    """(1 - mix) dry + mix wet, in the dtype given (the kernel uses double, in this order)."""
    return (1.0 - mix) * dry + mix * wet


class DryWet(ParamBlock):
    type_name: ClassVar[str] = "DryWet"
    config_entries: ClassVar[tuple[str, ...]] = ("blocks", "knobs")

    def __init__(
        self, blocks: Sequence[nn.Module], mix: float = MIX.default, knobs: Optional[Mapping[str, str]] = None
    ) -> None:
        super().__init__(knobs, {"mix": mix})
        if not isinstance(blocks, (list, tuple, nn.ModuleList)) or not 1 <= len(blocks) <= MAX_INNER_BLOCKS:
            raise ValueError(f"DryWet.blocks: expected a list of 1 to {MAX_INNER_BLOCKS} blocks")
        for j, block in enumerate(blocks):
            latency = int(getattr(block, "latency_samples", 0))
            if latency:
                raise ValueError(
                    f"DryWet.blocks[{j}]: {type(block).__name__} reports {latency} samples of latency and DryWet does "
                    "not delay the dry path to match; place that block outside the DryWet"
                )
            if hasattr(block, "knob_index"):  # it is handed exactly its own knob rows
                block.knob_index = torch.arange(len(block.conditioning), dtype=torch.long)
        self.blocks = nn.ModuleList(blocks)
        self.knob_index = torch.zeros(len(self.conditioning), dtype=torch.long)

    def param_specs(self) -> Sequence[ParamSpec]:
        return (MIX,)

    @property
    def conditioning(self) -> list[str]:
        """Own bound knobs (mix), then each inner block's, in order."""
        own = super().conditioning
        return own + [name for block in getattr(self, "blocks", ()) for name in block.conditioning]

    def config(self) -> dict[str, Any]:
        return {
            "blocks": [{"type": block.type_name, "config": block.config()} for block in self.blocks],
            **self.binding_config(),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "DryWet":
        from ..blocks import build_block  # the registry imports this module

        records = config["blocks"]
        if not isinstance(records, list) or not 1 <= len(records) <= MAX_INNER_BLOCKS:
            raise ModelFileError(f'blocks: expected a list of 1 to {MAX_INNER_BLOCKS} {{"type", "config"}} objects')
        inner = []
        for j, record in enumerate(records):
            where = f"blocks[{j}]"
            if not isinstance(record, dict):
                raise ModelFileError(f'{where}: expected an object {{"type": ..., "config": {{...}}}}')
            if "weights" in record:
                raise ModelFileError(
                    f"{where}.weights: an inner block's weights belong in the DryWet block's weights, "
                    f"named 'blocks.{j}.<weight>'"
                )
            if not isinstance(record.get("type"), str):
                raise ModelFileError(f"{where}.type: missing or not a string")
            if not isinstance(record.get("config"), dict):
                raise ModelFileError(f"{where}.config: missing or not an object")
            inner.append(build_block(record["type"], record["config"], where))
        return cls(inner, knobs=config.get("knobs"))

    def forward(self, x: Tensor, knobs: Optional[Tensor] = None, state: Optional[list] = None) -> tuple[Tensor, list]:
        """x: (batch, samples); knobs: (batch, all_knobs, samples) normalized 0..1."""
        own = len(super().conditioning)
        values = self.parameter_values(knobs, self.knob_index[:own])
        state = state if state is not None else [None] * len(self.blocks)
        wet, new_state = x, []
        for j, (block, index, s) in enumerate(zip(self.blocks, split_knob_index(self.knob_index[own:], self.blocks), state)):
            if len(index) and knobs is None:
                raise ValueError(f"DryWet.blocks[{j}] ({type(block).__name__}) is conditioned on knobs; pass knobs")
            wet, s = block(wet, knobs.index_select(1, index) if len(index) else None, s)
            new_state.append(s)
        y = dry_wet(x.to(torch.float64), wet.to(torch.float64), values["mix"])
        return y.to(x.dtype), new_state
