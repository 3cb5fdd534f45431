"""The torch side of a model file: knobs + a chain of blocks. Twin of cpp/include/neuralfx/model.hpp."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from . import modelfile
from .blocks import build_block
from .errors import ModelFileError
from .dsp.delay import Delay, line_length
from .dsp.params import ParamBlock, WeightRangeError
from .knobs import Knob, smooth
from .models.config_checks import MAX_DELAY_LINE_SAMPLES, MAX_KNOBS, knob_name_problem, model_rate_problem

# Samples of silence that settle a model before its first input (Model.settled_state).
SETTLE_SAMPLES = 8192


def _check_block_fits(block: nn.Module, index: int, sample_rate: float, knobs: Sequence[Knob], where: str = "") -> None:
    """A block belongs in a model only at the model's rate and conditioned on declared knobs;
    a knob bound to a DSP parameter spans exactly the parameter's range (as the C++ loader demands).
    A container's inner blocks (DryWet.blocks) are checked too, at their path below it."""
    where = where or f"blocks[{index}]"
    knob_names = [k.name for k in knobs]
    block_rate = getattr(block, "sample_rate", None)
    if block_rate is not None and float(block_rate) != float(sample_rate):
        raise ModelFileError(f"{where}.config.sample_rate: {block_rate:g} Hz differs from the model's "
                             f"sample_rate {float(sample_rate):g} Hz")
    # Inner blocks first: a container's conditioning includes theirs, and their path is the precise one.
    for j, inner in enumerate(getattr(block, "blocks", ())):
        _check_block_fits(inner, index, sample_rate, knobs, f"{where}.config.blocks[{j}]")
    for j, name in enumerate(getattr(block, "conditioning", [])):
        if name not in knob_names:
            raise ModelFileError(f"{where}.config.conditioning[{j}]: knob '{name}' is not declared in \"knobs\" "
                                 f"(declared: {', '.join(knob_names) or 'none'}; a `neuralfx train --template` "
                                 "model has the captures' knobs)")
    by_name = {k.name: k for k in knobs}
    for part in block.modules():
        if isinstance(part, ParamBlock):
            for spec in part.param_specs():
                knob = by_name.get(part.knob_bindings.get(spec.name, ""))
                if knob is not None and (knob.min, knob.max) != (spec.min, spec.max):
                    needed = f"[{spec.min:g}, {spec.max:g}] {spec.unit}".rstrip()
                    raise ModelFileError(
                        f"{where}: knob '{knob.name}' has range [{knob.min:g}, {knob.max:g}]; parameter "
                        f"'{spec.name}' of {type(part).__name__} needs exactly {needed}: declare the knob with that "
                        "range (for knob captures: its min and max in manifest.json)")


def _tally_delay_lines(block: nn.Module, where: str, total: int) -> int:
    """total plus the Delay lines of block (inner blocks of a DryWet included), refused past
    MAX_DELAY_LINE_SAMPLES at the Delay that passes it. Called block by block as a file is read,
    before a block's weights and the next block, as the C++ reader counts and checks
    (BlockReader::claim_delay_line), so both name the same first problem."""
    if isinstance(block, Delay):
        total += line_length(block.max_delay_ms, block.sample_rate)
        if total > MAX_DELAY_LINE_SAMPLES:
            raise ModelFileError(f"{where}.config.max_delay_ms: the model's Delay lines would hold {total} samples "
                                 f"together, above the limit of {MAX_DELAY_LINE_SAMPLES} (one 10 s Delay at 768 kHz): "
                                 "use a shorter max_delay_ms or fewer Delay blocks")
    for j, inner in enumerate(getattr(block, "blocks", ())):
        total = _tally_delay_lines(inner, f"{where}.config.blocks[{j}]", total)
    return total


class Model(nn.Module):
    """A model file's network in torch: blocks run in order on (batch, samples) float32 audio at
    sample_rate, conditioned on the declared knobs (normalized 0..1 in forward). Model.load /
    from_modelfile read a file, to_modelfile writes one; the C++ kernel runs the same file."""

    def __init__(self, blocks: Sequence[nn.Module], sample_rate: float, knobs: Sequence[Knob] = ()) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.sample_rate = float(sample_rate)
        rate_problem = model_rate_problem(self.sample_rate)
        if rate_problem:  # neither reader would load its file
            raise ValueError(f"sample_rate: {rate_problem}")
        self.knobs = list(knobs)
        if len(self.knobs) > MAX_KNOBS:  # neither reader would load its file
            raise ValueError(f"{len(self.knobs)} knobs, above the limit of {MAX_KNOBS}")
        for i, knob in enumerate(self.knobs):
            name_problem = knob_name_problem(knob.name)
            if name_problem:
                raise ValueError(f"knobs[{i}].name: {name_problem}")
        names = [k.name for k in self.knobs]
        for i, block in enumerate(self.blocks):
            _check_block_fits(block, i, self.sample_rate, self.knobs)
            if hasattr(block, "knob_index"):
                block.knob_index = torch.tensor([names.index(n) for n in block.conditioning], dtype=torch.long)

        total = 0
        for i, block in enumerate(self.blocks):
            total = _tally_delay_lines(block, f"blocks[{i}]", total)

    # ---- the forward pass used by training and by parity tests ----
    def forward(self, x: Tensor, knobs: Optional[Tensor] = None, state: Optional[list] = None) -> tuple[Tensor, list]:
        """x: (batch, samples); knobs: (batch, len(self.knobs), samples), normalized 0..1,
        defaults when None. state None starts where the kernel's prepare() and reset() do with the
        knobs set to their first values here: settled on silence at knobs[:, :, 0]
        (settled_state). A path that glides away from the values the kernel settled at (a
        knob_trajectory with a move before block 0 starts 0.2 % of the way to it) needs the state
        settled at those values, settled_state(them), as process_blocks passes: from knobs[:, :, 0]
        a GRU's output was 8e-4 off the kernel's. zero_state() is the zero state. Returns the output
        and the per-block state to continue from."""
        if x.dim() != 2 or not x.is_floating_point():  # 1-D failed deep in a block; int32 came back int32
            raise ValueError(f"x must be a floating-point (batch, samples) tensor, got {x.dtype} of shape "
                             f"{tuple(x.shape)}" + (": x[None] adds the batch axis" if x.dim() == 1 else ""))
        weights = next(self.parameters(), None)
        if weights is not None and x.dtype != weights.dtype:  # float64 failed inside the RNN
            raise ValueError(f"x is {x.dtype} and the model's weights are {weights.dtype}: pass x.to({weights.dtype})")
        if knobs is None:
            knobs = self.default_knobs(x.shape[0], x.shape[1], x.device)
        else:
            knobs = self._checked_knobs(knobs, x)
        if state is None:
            first = knobs[:, :, 0] if knobs.shape[2] else self.default_knobs(x.shape[0], 1, x.device)[:, :, 0]
            state = self.settled_state(first, x.dtype)
        new_state = []
        for block, s in zip(self.blocks, state):
            x, s = block(x, knobs, s)
            new_state.append(s)
        return x, new_state

    def _checked_knobs(self, knobs: Tensor, x: Tensor) -> Tensor:
        """knobs for x: in x's dtype (float64 knobs failed inside a TCN), a batch of 1 expanded
        to x's batch; ValueError for a shape or range the blocks would fail on, or run wrong."""
        expected = (x.shape[0], len(self.knobs), x.shape[1])
        if knobs.dim() != 3 or tuple(knobs.shape) not in (expected, (1, *expected[1:])):
            names = ", ".join(k.name for k in self.knobs) or "none"
            raise ValueError(f"knobs must be (batch, knobs, samples) = {expected} (or a batch of 1) for x of shape "
                             f"{tuple(x.shape)} (knobs: {names}); got {tuple(knobs.shape)}")
        knobs = knobs.to(x.dtype)  # also settled_state's float32 defaults for a model.double()
        # Values in knob units (18 dB) ran as a far extrapolation of the trained 0..1 range. Checked
        # on the CPU only: on a GPU reading the range waits for the device, in every chunk of
        # training (whose knobs come normalized from checked captures).
        if knobs.numel() and knobs.device.type == "cpu":
            low, high = knobs.amin(dim=(0, 2)).tolist(), knobs.amax(dim=(0, 2)).tolist()
            for knob, lo, hi in zip(self.knobs, low, high):
                if not (lo >= 0.0 and hi <= 1.0):
                    raise ValueError(f"knobs are normalized 0..1 (Knob.normalize of each of model.knobs, or "
                                     f"model.knob_trajectory); knob '{knob.name}' spans [{lo!r}, {hi!r}]")
        return knobs.expand(x.shape[0], -1, -1)

    def zero_state(self) -> list:
        return [None] * len(self.blocks)

    @torch.no_grad()
    def settled_state(self, knob_values: Tensor, dtype: torch.dtype = torch.float32) -> list:
        """The state after SETTLE_SAMPLES of silence with the knobs held at knob_values (batch,
        len(self.knobs)), normalized: a model at rest, not the zero state, from which trained amps
        start with a thump. Twin of Model::kSettleSamples in cpp/include/neuralfx/model.hpp."""
        silence = torch.zeros(knob_values.shape[0], SETTLE_SAMPLES, dtype=dtype, device=knob_values.device)
        held = knob_values[:, :, None].expand(-1, -1, SETTLE_SAMPLES)
        return self(silence, held, self.zero_state())[1]

    def default_knobs(self, batch: int, samples: int, device: torch.device | str = "cpu") -> Tensor:
        values = torch.tensor([k.normalize(k.default) for k in self.knobs], dtype=torch.float32, device=device)
        return values.view(1, -1, 1).expand(batch, -1, samples)

    def knob_trajectory(self, samples: int, block_size: int, knob_moves: Optional[list[dict[str, float]]] = None) -> Tensor:
        """(1, knobs, samples) smoothed normalized knob values when knob_moves[b] (settings in
        knob units) is applied before block b of a freshly prepared kernel, smoothed as it does."""
        names = [k.name for k in self.knobs]
        targets = np.empty((len(self.knobs), samples), dtype=np.float32)
        initial = np.array([k.normalize(k.default) for k in self.knobs], dtype=np.float32)
        current = initial.copy()
        for b, start in enumerate(range(0, samples, block_size)):
            for name, value in (knob_moves[b] if knob_moves and b < len(knob_moves) else {}).items():
                current[names.index(name)] = self.knobs[names.index(name)].normalize(value)
            targets[:, start : start + block_size] = current[:, None]
        # The smoother starts at the defaults, where the kernel's prepare() left it.
        return torch.from_numpy(smooth(targets, initial, self.sample_rate))[None]

    @torch.no_grad()
    def process_blocks(self, audio: np.ndarray, block_size: int, knob_moves: Optional[list[dict[str, float]]] = None) -> np.ndarray:
        """Mono audio through the model with knob moves applied before blocks, as a host drives
        the kernel. The torch forward is causal, so one call over the whole signal is exact."""
        audio = np.asarray(audio, dtype=np.float32)
        knobs = self.knob_trajectory(len(audio), block_size, knob_moves)
        # Settled where the kernel's prepare() leaves it: at the defaults, before any move.
        defaults = self.default_knobs(1, 1)[:, :, 0]
        return self(torch.from_numpy(audio)[None], knobs, self.settled_state(defaults))[0][0].numpy()

    # ---- model files ----
    def to_modelfile(self, metadata: Optional[dict[str, Any]] = None) -> modelfile.ModelFile:
        records = []
        for block in self.blocks:
            weights = {name: t.detach().cpu().numpy() for name, t in block.state_dict().items()}
            records.append(modelfile.BlockRecord(type=block.type_name, config=block.config(), weights=weights))
        version = max([modelfile.OLDEST_VERSION] + [m.format_version() for m in self.modules() if isinstance(m, ParamBlock)])
        return modelfile.ModelFile(
            sample_rate=self.sample_rate, blocks=records, knobs=list(self.knobs), metadata=dict(metadata or {}),
            version=version,
        )

    def save(self, path: str | os.PathLike, metadata: Optional[dict[str, Any]] = None) -> Path:
        return self.to_modelfile(metadata).save(path)

    @classmethod
    def from_modelfile(cls, mf: modelfile.ModelFile) -> "Model":
        blocks = []
        delay_samples = 0
        for i, record in enumerate(mf.blocks):
            where = f"blocks[{i}]"
            block = build_block(record.type, record.config, where)
            delay_samples = _tally_delay_lines(block, where, delay_samples)
            # Before the weights: a config error explains a shape mismatch, not the other way round.
            _check_block_fits(block, i, mf.sample_rate, mf.knobs)
            expected = block.state_dict()
            for name, tensor in expected.items():
                if name not in record.weights:
                    raise ModelFileError(f"{where}.weights.{name}: missing")
                got = list(record.weights[name].shape)
                if got != list(tensor.shape):
                    raise ModelFileError(f"{where}.weights.{name}.shape: is {got}, expected {list(tensor.shape)}")
            extra = set(record.weights) - set(expected)
            if extra:
                raise ModelFileError(f"{where}.weights: unexpected weight(s) {sorted(extra)} for {record.type}")
            try:
                block.load_state_dict({n: torch.from_numpy(np.array(w)) for n, w in record.weights.items()})
            except WeightRangeError as e:  # named as the kernel's reader names it, by its path in the file
                raise ModelFileError(f"{where}.weights.{e.weight}: {e.problem}") from None
            blocks.append(block)
        return cls(blocks, mf.sample_rate, mf.knobs)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Model":
        mf = modelfile.load(path)  # its errors name the file
        try:
            return cls.from_modelfile(mf)
        except ModelFileError as e:  # a block's config or weights, named by their path in the file
            raise ModelFileError(f"'{path}': {e}") from None
