"""Fitting DSP block parameters to an input/target pair (``neuralfx fit``).

The blocks to fit are named by a chain spec (``--chain``), a comma-separated list of items
``NAME[:key=value]...``, where NAME is a biquad mode (``peak``, ``lowshelf``, ``highshelf``,
``lowpass``, ``highpass``, ``bandpass``, ``notch``) or a block type (``gain``, ``waveshaper``,
any name in neuralfx.blocks, case-insensitive); ``key=value`` sets a config entry
(``waveshaper:curve=arctan``) or a parameter's starting value (``peak:frequency=300``)::

    neuralfx fit in.wav target.wav --chain "lowshelf,peak,highshelf,gain" --json

or by a template, a JSON file naming the blocks and their configs (DSP weights optional:
missing ones start at the parameters' defaults; a network's weights are required, since fit
holds them fixed; ``neuralfx fit`` fills in the audio's rate, which ``model_from_template``
needs as "sample_rate")::

    {"knobs": [],
     "blocks": [{"type": "ParametricEQ", "config": {"bands": [{"mode": "peak"}]}},
                {"type": "Gain", "config": {}}]}

Every parameter is optimized by Adam with a step size proportional to its declared range
(``lr`` is a fraction of the range per step), so Hz, dB and q move at comparable rates:
the normalized 0..1 interface of the blocks, applied to their weights; frequencies, q, ratios
and times step in log space over the log of their range (``params.step``). Loss: ESR + DC +
0.1 * multi-resolution STFT (neuralfx.losses), on random segments after a warm-up that lets
the filters' zero initial state settle.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Optional, Sequence

import numpy as np
import torch

from ..alignment import DEFAULT_MAX_LATENCY_SECONDS, Alignment
from ..audio import check_finite
from ..blocks import BLOCK_TYPES, block_class, check_config_entries
from ..errors import ModelFileError
from ..files import read_json
from ..losses import LossWeights, TrainingLoss, esr
from ..knobs import Knob
from ..model import Model
from ..modelfile import _read_knobs, _read_tensor
from ..models.config_checks import SAMPLE_RATE_RANGE, check_float
from ..holdout import MIN_VALIDATION_SAMPLES, Holdout
from ..training import TrainConfig, check_held_out_level, history_samples
from .biquad import MODES as BIQUAD_MODES
from .delay import refine_rates, start_at_measured_echo
from .params import ParamBlock, ParamSpec, dsp_weight_ids, optimizer_groups, step


class DivergedError(ValueError):
    """A fit's loss stopped being finite."""


@dataclass
class FitResult:
    model: Model
    validation_esr: float
    steps: int
    seconds: float
    # A Delay's time measured from the pair before descent, by name (None: no echo stood out): fit().
    measured: dict[str, Optional[float]] = field(default_factory=dict)
    # With restarts: the validation ESR of each run, by its seed; the model is the best run's.
    tries: dict[int, float] = field(default_factory=dict)
    seed: int = 0  # the kept run's
    # The frequencies the kept run started from where it drew them (a restart after the first).
    start: dict[str, float] = field(default_factory=dict)
    # fit()'s arguments (steps, lr, segment, batch, warmup, seed, restarts, train, hold).
    settings: dict[str, Any] = field(default_factory=dict)

    def metadata(self, trained_on: str, alignment: Optional[Alignment] = None, polarity: str = "error",
                 max_latency_seconds: float = DEFAULT_MAX_LATENCY_SECONDS) -> dict[str, Any]:
        """The model file's metadata. alignment: what datacheck.prepare found and removed from the
        pair before the fit (with the polarity and max_latency_seconds it ran with); None, the pair
        was fitted on its own timing (fit() never aligns), and `neuralfx report` scores it so: a delay
        pedal's pair, aligned there, lost its echo as latency (ESR 0.76 for a fit of 1.4e-7)."""
        config = {**self.settings, "align": alignment is not None}
        if alignment is not None:
            config.update(polarity=polarity, max_latency_seconds=max_latency_seconds)
        return {
            "trained_on": trained_on,
            "validation_esr": self.validation_esr,
            "train_steps": self.steps,
            "train_seconds": round(self.seconds, 1),
            "fit": "neuralfx fit (DSP parameters)",
            "config": config,
            **({"alignment": [alignment.to_json()]} if alignment is not None else {}),
            # A failed try's NaN as null: a model file's JSON has no NaN.
            **({"fit_tries": {str(k): v if math.isfinite(v) else None for k, v in self.tries.items()},
                "fit_seed": self.seed} if len(self.tries) > 1 else {}),
            **({"fit_start": self.start} if self.start else {}),
            **({"measured_delay_ms": self.measured} if self.measured else {}),
        }


def model_from_template(template: dict[str, Any], label: Optional[Callable[[int], str]] = None) -> Model:
    """A Model from a template: block types and configs, optional weights (defaults otherwise).
    A config key naming one of the block's parameters sets its starting value; any other must be
    one of its config entries. label(i) names block i in errors (default "template.blocks[i]")."""
    if not isinstance(template, dict) or not isinstance(template.get("blocks"), list) or not template["blocks"]:
        raise ModelFileError("template.blocks: expected a non-empty list of {\"type\", \"config\"}")
    # A model file is a template too (its format, version and metadata are not read).
    unknown = sorted(set(template) - {"blocks", "sample_rate", "knobs", "format", "version", "metadata"})
    if unknown:  # a misspelt "knobz" was dropped, and the template's knobs with it
        raise ModelFileError(f"template: unknown entries {unknown} (a template holds blocks, sample_rate and knobs)")
    try:
        rate = check_float("template.sample_rate", template.get("sample_rate"), *SAMPLE_RATE_RANGE)
    except ValueError:
        raise ModelFileError(f"template.sample_rate: expected a number in [{SAMPLE_RATE_RANGE[0]:g}, "
                             f"{SAMPLE_RATE_RANGE[1]:g}] Hz") from None
    blocks = []
    for i, record in enumerate(template["blocks"]):
        where = label(i) if label else f"template.blocks[{i}]"
        if not isinstance(record, dict) or not isinstance(record.get("config", {}), dict):
            raise ModelFileError(f"{where}: expected {{\"type\": ..., \"config\": {{...}}}}")
        cls = block_class(record.get("type", ""), where)
        config = record.get("config", {})
        try:
            block = cls.from_config(_with_rate(config, rate, "sample_rate" in cls.config_entries))
        except KeyError as e:
            raise ModelFileError(f"{where}.config: {record.get('type')} needs {e}") from None
        except (TypeError, ValueError) as e:
            raise ModelFileError(f"{where}.config: invalid for {record.get('type')}: {e}") from None
        specs = {spec.name: spec for spec in block.param_specs()} if isinstance(block, ParamBlock) else {}
        for name, value in config.items():
            if name in specs:
                try:
                    getattr(block, name).data.fill_(specs[name].check(float(value)))
                except (TypeError, ValueError) as e:
                    raise ModelFileError(f"{where}: {e}") from None
            elif name not in cls.config_entries:
                raise ModelFileError(f"{where}: '{name}' is neither a parameter ({', '.join(specs) or 'none'}) "
                                     f"nor a config entry ({', '.join(cls.config_entries)}) of {record.get('type')}")
        # As a model file's: a rate that is not a number, knobs that are not an object.
        check_config_entries(cls, {k: v for k, v in config.items() if k in cls.config_entries}, f"{where}.config")
        _load_template_weights(block, record.get("weights", {}), where)
        blocks.append(block)
    return Model(blocks, rate, _read_knobs(template.get("knobs", [])))


def require_network_weights(template: dict[str, Any], model: Model, label: Optional[Callable[[int], str]] = None,
                            remedy: str = "give its weights (e.g. copied from a trained model file)") -> None:
    """`fit` holds a network's weights fixed (it fits DSP settings around a known network), so a
    fit template must give every one of them: random weights would be fitted around as if real."""
    dsp = dsp_weight_ids(model)
    for i, (record, block) in enumerate(zip(template["blocks"], model.blocks)):
        given = record.get("weights", {})
        missing = [name for name, weight in block.named_parameters() if id(weight) not in dsp and name not in given]
        if missing:
            where = label(i) if label else f"template.blocks[{i}]"
            raise ModelFileError(f"{where}: fit holds a network's weights fixed and {record.get('type')} has no "
                                 f"{', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}: train it with "
                                 f"`neuralfx train --template`, or {remedy}")


def _with_rate(config: dict[str, Any], rate: float, takes_rate: bool) -> dict[str, Any]:
    """Every block runs at the model's rate: a template may leave it out of the configs, inner
    blocks' (a DryWet's) included. Only types that take a rate get one (the model-file reader
    refuses a sample_rate on a Gain)."""
    out = {"sample_rate": rate, **config} if takes_rate else dict(config)
    if isinstance(out.get("blocks"), list):
        out["blocks"] = [_inner_with_rate(b, rate) for b in out["blocks"]]
    return out


def _inner_with_rate(record: Any, rate: float) -> Any:
    kind = record.get("type") if isinstance(record, dict) else None
    block_type = BLOCK_TYPES.get(kind) if isinstance(kind, str) else None
    if block_type is None or not isinstance(record.get("config", {}), dict):
        return record  # the reader names what is wrong
    return dict(record, config=_with_rate(record.get("config", {}), rate, "sample_rate" in block_type.config_entries))


def _load_template_weights(block: torch.nn.Module, weights: Any, where: str) -> None:
    """A template's optional weights, {name: {"shape", "data"}} as in a model file, named as in the
    block's state dict."""
    if not isinstance(weights, dict):
        raise ModelFileError(f"{where}.weights: expected an object {{name: {{\"shape\": [...], \"data\": [...]}}}}")
    known = block.state_dict()
    state = {}
    for name, value in weights.items():
        if name not in known:
            raise ModelFileError(f"{where}.weights.{name}: not a weight of this block (its weights: {', '.join(known)})")
        state[name] = torch.from_numpy(_read_tensor(value, f"{where}.weights.{name}"))
        if state[name].shape != known[name].shape:  # e.g. a network's weights kept after its config changed
            raise ModelFileError(f"{where}.weights.{name}: shape {list(state[name].shape)}, but this config needs "
                                 f"{list(known[name].shape)}")
    block.load_state_dict(state, strict=False)


def model_for_captures(template: dict[str, Any], sample_rate: float, knobs: Sequence[Knob]) -> Model:
    """The model `neuralfx train --template` (or a training recipe's "model") trains: the template's
    blocks ({"blocks": [{type, config}, ...]}) at the captures' rate, on the captures' knobs (a
    knob bound to a DSP parameter must span its range: edit the manifest's knob before training)."""
    if not isinstance(template, dict):
        raise ModelFileError("template: expected a JSON object {\"blocks\": [...]}")
    unknown = sorted(set(template) - {"blocks", "sample_rate"})
    if unknown:
        raise ModelFileError(f"template: unknown entries {unknown}: a training template holds blocks only (knobs "
                             "come from the captures, the rate from the audio)")
    if "sample_rate" in template and template["sample_rate"] != sample_rate:
        raise ModelFileError(f"template.sample_rate: {template['sample_rate']} Hz, but the captures are "
                             f"{sample_rate:g} Hz: leave it out")
    doc = {"sample_rate": float(sample_rate), "blocks": template.get("blocks"),
           "knobs": [{"name": k.name, "min": k.min, "max": k.max, "default": k.default, "unit": k.unit} for k in knobs]}
    model = model_from_template(doc)
    # A knob no block follows: the model would learn the average of the settings and ignore it.
    used = {name for block in model.blocks for name in getattr(block, "conditioning", [])}
    unused = [k.name for k in knobs if k.name not in used]
    if unused:
        raise ModelFileError(f"template: no block follows the captures' knob(s) {', '.join(unused)}: bind each to a "
                             "parameter (config \"knobs\": {\"PARAM\": \"KNOB\"}) or condition a network on it "
                             "(config \"conditioning\": [\"KNOB\"])")
    return model


def option_value(text: str) -> Any:
    """`key=value` values (--chain options, --plugin-param) read as JSON when they parse (numbers, true/false), else as strings."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def model_from_chain(spec: str, sample_rate: float) -> Model:
    """A Model from a chain spec such as ``"lowshelf,peak:frequency=2000,gain"`` (see the module doc)."""
    types_by_name = {name.lower(): name for name in BLOCK_TYPES}
    items = [item.strip() for item in spec.split(",")]
    if not spec.strip() or not all(items):
        raise ModelFileError(f"--chain '{spec}': expected comma-separated block names, e.g. \"peak,gain\"")
    template_blocks = []
    for i, item in enumerate(items):
        name, *options = item.split(":")
        config: dict[str, Any] = {}  # the rate comes from the template's, where the type takes one
        key = name.strip().lower()
        if key in BIQUAD_MODES:
            type_name, config["mode"] = "Biquad", key
        elif key in types_by_name:
            type_name = types_by_name[key]
        else:
            known = ", ".join(list(BIQUAD_MODES) + sorted(k for k in types_by_name))
            raise ModelFileError(f"--chain item {i} '{item}': unknown block '{name}' (known: {known})")
        values = {}
        for option in options:
            k, sep, v = option.partition("=")
            if not sep or not k:
                raise ModelFileError(f"--chain item {i} '{item}': option '{option}' is not key=value")
            values[k.strip()] = option_value(v.strip())
        template_blocks.append({"type": type_name, "config": {**config, **values}})
    template = {"sample_rate": sample_rate, "blocks": template_blocks}
    label = lambda i: f"--chain item {i} '{items[i]}'"  # noqa: E731
    model = model_from_template(template, label)
    require_network_weights(template, model, label, remedy="fit it with --template, the network's block (type, "
                                                           "config, weights) copied from its model file")
    return model


def recovered_settings(model: Model) -> list[dict[str, Any]]:
    """Each block's type, config, every DSP parameter value by its weight name (physical units),
    and the parameters bound to a knob (name -> knob), whose stored value the knob replaces."""
    out = []
    for block in model.blocks:
        settings, knobs = {}, {}
        for path, module in block.named_modules():
            if isinstance(module, ParamBlock):
                for spec in module.param_specs():
                    name = f"{path}.{spec.name}" if path else spec.name
                    weight = getattr(module, spec.name)
                    settings[name] = min(max(float(weight.detach()[0]), spec.min), spec.max)
                    if spec.name in module.knob_bindings:
                        knobs[name] = module.knob_bindings[spec.name]
        out.append({"type": block.type_name, "config": block.config(), "settings": settings, "knobs": knobs})
    return out


def settings_text(record: dict[str, Any]) -> str:
    """A recovered_settings record's parameters as 'name=value, ...' (a knob's: name=knob 'k')."""
    return ", ".join(f"{k}=knob '{record['knobs'][k]}'" if k in record["knobs"] else f"{k}={v:.6g}"
                     for k, v in record["settings"].items())


def settings_lines(model: Model) -> list[str]:
    """'blocks[i] Type: name=value, ...' for each block with DSP parameters (info, report)."""
    return [f"blocks[{i}] {r['type']}: {settings_text(r)}" for i, r in enumerate(recovered_settings(model))
            if r["settings"]]


def fit(
    model: Model,
    x: np.ndarray,
    y: np.ndarray,
    steps: int = 300,
    lr: float = 0.01,
    segment: int = 8192,
    batch: int = 4,
    warmup: int = 1024,
    seed: int = 0,
    train: Optional[Collection[str]] = None,
    hold: Optional[Collection[str]] = None,
    restarts: int = 1,
) -> FitResult:
    """Fits the DSP parameter weights of `model` so that model(x) matches y (mono, equal length),
    on segments of the first 85 % of the pair; the validation ESR is the one of the last 15 %
    (TrainConfig.validation_fraction), the model run over the whole pair. `neuralfx train` holds
    out that share of each of several spans instead; a fit recovers a few settings of a chain
    from one pair, and its end is held out as before (docs/DSP.md's measured fits).

    train: the weights to fit, named as in ``model.named_parameters()`` (``"blocks.0.ratio"``);
    None fits every unbound parameter. hold: weights kept at their values even so (a delay time
    measured beforehand). The others keep their values (e.g. known settings given in the template's
    weights), and so do the weights of any network in the chain.

    A Delay's time, when the chain has one Delay and its time is fitted, starts from the echo
    measured in the pair's response (delay.echo_delay_ms; a start given within a sample of it is
    kept) and descends in steps of at most delay.DELAY_REFINE_SAMPLES: descent moves a time only within
    the sample interval it starts in, and at the range-sized steps of the other parameters it left
    it. Each segment's warm-up covers the history the model keeps (training.history_samples:
    repeats of every Delay's time, a held convolutional network's receptive field), up to half of
    what the pair leaves beside a segment (`warmup` at least).

    restarts: runs with seeds seed, seed + 1, ... (other segments), keeping the one of lowest
    validation ESR: descent can settle in a local minimum (Pedalboard's Compressor + Gain at seed
    0: knee 2.4 dB instead of 0, ESR 2.0e-4; seeds 1 and 2: 6.4e-8 and 1.3e-7), and which one
    depends on the segments drawn and, for an EQ, on where its frequencies start: runs after the
    first draw each fitted frequency (a parameter in Hz) log-uniform over its range from their
    seed (a shelf fitted at 739 Hz for 200 Hz from three seeds at the chain's start landed within
    0.01 Hz from a drawn one; docs/DSP.md). The kept run's drawn starts are in the result's
    `start` (metadata.fit_start): `seed` alone starts at the chain's values, so giving those
    starts repeats the run. A run that diverges or validates at NaN counts as failed (NaN in
    `tries`); the fit fails only when every run does."""
    if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 1:
        raise ValueError(f"restarts must be a whole number >= 1, got {restarts!r}")
    x = np.asarray(x, np.float32).reshape(-1)
    y = np.asarray(y, np.float32).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"input and target differ in length ({x.size} vs {y.size} samples)")
    for name, a in (("input", x), ("target", y)):
        check_finite(a[None, :], f"the {name}")
    fraction = TrainConfig.validation_fraction
    tail = Holdout(fraction)
    (_, trained), = tail.trained(x.size)
    candidates, specs = {}, {}
    for prefix, module in model.named_modules():
        if isinstance(module, ParamBlock):
            for spec in module.param_specs():
                if spec.name not in module.knob_bindings:
                    candidates[f"{prefix}.{spec.name}"] = getattr(module, spec.name)
                    specs[f"{prefix}.{spec.name}"] = spec
    held = {_weight_name(name, candidates, "hold") for name in _names(hold)}
    if train is not None:
        train = {_weight_name(name, candidates, "train") for name in _names(train)}
    chosen = [name for name in candidates if (train is None or name in train) and name not in held]
    if not chosen:
        raise ValueError("nothing to fit: train names no parameter" if train is not None and not train
                         else "every DSP parameter is held (hold): nothing to fit" if held and candidates
                         else "the chain has no DSP parameter to fit")
    shortest = tail.shortest(x.size, segment + warmup)
    if shortest is not None:
        raise ValueError(f"input is too short: {x.size} samples; it needs {shortest}: segments of {segment} after a "
                         f"{warmup}-sample warm-up in its first {1 - fraction:.0%}, and {MIN_VALIDATION_SAMPLES} in the "
                         f"last {fraction:.0%} to validate on")
    check_held_out_level(y, tail, "the target")  # a perfect fit scored ESR 1.0 on a tail of silence
    measured = start_at_measured_echo(model, [(x[:trained], y[:trained])], chosen)
    # The model runs at its knobs' defaults (knobs None), a Delay time on a knob too.
    history = history_samples(model, {k.name: k.default for k in model.knobs})
    settle = max(warmup, min(history, (trained - segment) // 2))
    # Everything else holds still: DSP weights not chosen and any network's weights (a network is
    # trained by `neuralfx train`; here it is a known part of the chain, given in the template).
    chosen_ids = {id(candidates[name]) for name in chosen}
    frozen = [w for w in model.parameters() if w.requires_grad and id(w) not in chosen_ids]
    for weight in frozen:
        weight.requires_grad_(False)
    rates = refine_rates(model, measured)
    drawn = {name: specs[name] for name in chosen if specs[name].unit == "Hz" and name not in measured}

    def run(run_seed: int) -> FitResult:
        start = _draw_frequencies(candidates, drawn, run_seed) if run_seed != seed else {}
        result = _fit_chosen(model, x, y, trained, steps, lr, segment, batch, settle, run_seed, rates)
        result.start = start
        return result

    try:
        result = _best_run(model, range(seed, seed + restarts), run)
        result.measured = measured
        result.settings = {"steps": steps, "lr": lr, "segment": segment, "batch": batch, "warmup": warmup, "seed": seed,
                           "restarts": restarts, "train": sorted(train) if train is not None else None,
                           "hold": sorted(held)}
        return result
    finally:  # the caller's model is trainable again, also after an error or Ctrl-C
        for weight in frozen:
            weight.requires_grad_(True)


def _draw_frequencies(weights: dict[str, torch.Tensor], specs: dict[str, ParamSpec], seed: int) -> dict[str, float]:
    """Each of `specs`' frequencies started anew, log-uniform over its range, from `seed`; the
    values drawn, by name."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, spec in specs.items():
            weights[name].fill_(math.exp(rng.uniform(math.log(spec.min), math.log(spec.max))))
    return {name: float(weights[name].detach()) for name in specs}


def _best_run(model: Model, seeds: range, run: Callable[[int], FitResult]) -> FitResult:
    """run(seed) for each seed, each from the model's weights as they are now; the model is left
    with the run of lowest validation ESR, whose result comes back with every run's in `tries`.
    A run that diverges or validates at NaN has failed; with one seed its error goes up."""
    def rank(esr_value: float) -> float:  # NaN (a failed run) last
        return esr_value if not math.isnan(esr_value) else math.inf

    start = copy.deepcopy(model.state_dict()) if len(seeds) > 1 else {}
    best: Optional[tuple[FitResult, dict[str, Any]]] = None
    tries: dict[int, float] = {}
    seconds, failure = 0.0, None
    for run_seed in seeds:
        if run_seed != seeds[0]:
            model.load_state_dict(start)
        started = time.monotonic()
        try:
            result = run(run_seed)
        except DivergedError as e:
            if len(seeds) == 1:
                raise
            tries[run_seed], failure = math.nan, e
            seconds += time.monotonic() - started
            continue
        result.seed = run_seed
        tries[run_seed] = result.validation_esr
        seconds += result.seconds
        if best is None or rank(result.validation_esr) < rank(best[0].validation_esr):
            best = (result, copy.deepcopy(model.state_dict()) if len(seeds) > 1 else {})
    if best is None:
        raise DivergedError(f"every one of the {len(seeds)} runs diverged: {failure}")
    result = best[0]
    if len(seeds) > 1:
        model.load_state_dict(best[1])
    result.tries, result.seconds = tries, seconds
    return result


def _names(names: Optional[Collection[str]]) -> list[str]:
    """train/hold: a list of names, or one name (not its letters)."""
    return [names] if isinstance(names, str) else list(names or ())


def _weight_name(name: str, candidates: Collection[str], what: str) -> str:
    """A fittable weight by its model name ("blocks.0.delay_ms", exact: a DryWet's inner Gain is
    blocks.1.blocks.0.gain_db, though its settings print blocks.0.gain_db) or, when one block has
    it, by the name fit prints in a block's settings ("delay_ms")."""
    if name in candidates:
        return name
    matches = [c for c in candidates if c.endswith("." + name)]
    if len(matches) == 1:
        return matches[0]
    raise ValueError(f"{what}: '{name}' is {'in several blocks' if matches else 'not a trainable DSP parameter'} "
                     f"(give one of {', '.join(sorted(candidates))})")


def _fit_chosen(model: Model, x: np.ndarray, y: np.ndarray, trained: int, steps: int, lr: float, segment: int,
                batch: int, settle: int, seed: int, fine: dict[int, float]) -> FitResult:
    """fit()'s loop over the weights left trainable, on segments of x[:trained] after `settle`
    samples of warm-up. fine: id(weight) -> its group's rate."""
    groups = [g for g in optimizer_groups(model, lr, own_rates=fine) if all(w.requires_grad for w in g["params"])]
    opt = torch.optim.Adam(groups)
    # Cosine decay to 0: large early steps cross the range quickly, small late steps settle
    # (a constant step keeps the parameters oscillating around the optimum).
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
    loss_fn = TrainingLoss(LossWeights(), segment_samples=segment)
    rng = np.random.default_rng(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    start = time.monotonic()
    model.train()
    for _ in range(steps):
        offsets = rng.integers(0, trained - segment - settle + 1, size=batch)
        xb = torch.stack([xt[o : o + settle + segment] for o in offsets])
        yb = torch.stack([yt[o + settle : o + settle + segment] for o in offsets])
        opt.zero_grad()
        # The warm-up samples set the state, with gradients: a delay's feedback is learned from
        # repeats of echoes of the warm-up (without, it stayed at 0 behind a 300 ms delay).
        pred, _ = model(xb, None, model.zero_state())
        loss = loss_fn(pred[:, settle:], yb)
        if not torch.isfinite(loss):
            raise DivergedError("training diverged (loss is not finite)")
        loss.backward()
        step(opt, model)
        schedule.step()
    model.eval()
    return FitResult(model, _held_out_esr(model, xt, yt, trained), steps, time.monotonic() - start)


def _held_out_esr(model: Model, x: torch.Tensor, y: torch.Tensor, trained: int, chunk: int = 65536) -> float:
    """ESR of y[trained:], the model run over all of x in chunks carrying its state: one pass over
    the whole pair held every block's float64 intermediates at once (`neuralfx fit` on a 5-minute
    pair peaked at 1.66 GB; 0.67 GB in chunks)."""
    state, tail = None, []
    with torch.no_grad():
        for start in range(0, x.numel(), chunk):
            pred, state = model(x[None, start : start + chunk], None, state)
            if start + chunk > trained:
                tail.append(pred[0, max(trained - start, 0):])
    return esr(torch.cat(tail), y[trained:])


def load_template(path: str | os.PathLike) -> Any:
    return read_json(path, "template")


