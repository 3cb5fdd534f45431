"""Rebuilds shipped models from their recipes: capture the recipe's device, train, export.

    python training/build_presets.py                      # every recipe in training/recipes/
    python training/build_presets.py crunch_amp           # one recipe
    python training/build_presets.py crunch_amp --seconds 20 --max-steps 50 --out /tmp/p  # a quick try

Each run writes presets/NAME.nfx, training/results/NAME.json (the measured numbers) and
regenerates training/RESULTS.md from all results files. With --out the numbers go to
OUT/results/ and OUT/RESULTS.md instead, and every record names the options it ran with."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from dataclasses import fields
from pathlib import Path

import torch

from neuralfx.dsp.fit import model_for_captures
from neuralfx.knobs import Knob
from neuralfx.machine import processor_name
from neuralfx.model import Model
from neuralfx.report import capture_recipe
from neuralfx.scores import esr_text
from neuralfx.sweep import KnobSweep, capture_sweep, controls_of, settings_grid, stages_at
from neuralfx.training import ARCHITECTURE_KEYS, TrainConfig, train

HERE = Path(__file__).resolve().parent
RECIPES = HERE / "recipes"
RESULTS = HERE / "results"
PRESETS = HERE.parent / "presets"


def sweeps_from_recipe(recipe: dict, path: Path) -> list[KnobSweep]:
    """The recipe's knobs: the capture manifest's schema (neuralfx/sweep.py)."""
    return [KnobSweep.from_json(k, f"{path}: knobs[{i}]") for i, k in enumerate(recipe.get("knobs", []))]


def model_from_recipe(recipe: dict, rate: float, knobs: list[Knob]) -> Model | None:
    """A recipe's "model" (a chain of blocks, e.g. EQ -> LSTM -> EQ, trained end to end), or None
    for the default: an LSTM of the "train" settings conditioned on every knob."""
    if "model" not in recipe:
        return None
    return model_for_captures({"blocks": recipe["model"]["blocks"]}, rate, knobs)


def architecture(model: Model) -> str:
    """"LSTM-32x1", or the chain for grey-box models: "ParametricEQ(highpass1, lowshelf) -> LSTM-32x1 -> ..."."""
    def one(block) -> str:
        config = block.config()
        if "hidden_size" in config:
            return f"{block.type_name}-{config['hidden_size']}x{config.get('num_layers', 1)}"
        if "bands" in config:
            return f"{block.type_name}({', '.join(b['mode'] for b in config['bands'])})"
        return block.type_name

    return " -> ".join(one(b) for b in model.blocks)


def run_recipe(path: Path, out_dir: Path, results_dir: Path, overrides: dict) -> dict:
    recipe = json.loads(path.read_text())
    name = recipe["name"]
    cap = {**recipe.get("capture", {}), **{k: v for k, v in overrides.items() if k == "seconds" and v}}
    seconds, rate, seed = cap.get("seconds", 180), cap.get("sample_rate", 48000), cap.get("seed", 0)
    train_args = dict(recipe.get("train", {}))
    if overrides.get("max_steps"):
        train_args["max_steps"] = overrides["max_steps"]
    known = {f.name for f in fields(TrainConfig)}
    unknown = set(train_args) - known
    if unknown:
        raise SystemExit(f"{path}: unknown train settings {sorted(unknown)}")
    chosen = sorted(set(train_args) & set(ARCHITECTURE_KEYS))
    if "model" in recipe and chosen:
        raise SystemExit(f"{path}: train settings {chosen} choose the default network, which this recipe's "
                         "\"model\" replaces: leave them out")
    # An interrupted build resumes from its checkpoint (beside the results folder: training/runs/
    # by default, not committed).
    # Keyed by capture length: a quick try never resumes into a full build or back.
    train_args.setdefault("checkpoint", str(results_dir.parent / "runs" / f"{name}-{seconds:g}s.ckpt"))
    config = TrainConfig(**train_args)
    sweeps = sweeps_from_recipe(recipe, path)
    grid = settings_grid(sweeps)
    print(f"== {name}: capturing {seconds} s at {len(grid)} setting(s) through {recipe['description']}")
    # Held-out settings are scored over a whole capture made with another seed.
    captures, heldout = capture_sweep(recipe["device"], RECIPES, sweeps, rate, seconds, seed)
    knobs = [s.knob for s in sweeps]
    # A recipe's own model gets its initial weights here, before train() seeds torch: seeded by the
    # recipe too, or every build of clean_amp started from other LSTM weights.
    torch.manual_seed(config.seed)
    model = model_from_recipe(recipe, rate, knobs)
    result = train(captures, config, knobs=knobs, model=model, heldout=heldout)
    heldout_esr = result.heldout_esr
    trained_on = f"{recipe['description']}; Pedalboard device {json.dumps(recipe['device'])}"
    metadata = result.metadata(trained_on, config, name=name)
    # How to remake the captures, so that `neuralfx report` can plot the held-out audio.
    metadata["capture"] = capture_recipe(rate, seconds, seed, [(s, stages_at(recipe["device"], sweeps, s)) for s in grid],
                                         recipe["device"], controls_of(sweeps))
    model_path = result.model.save(out_dir / f"{name}.nfx", metadata)
    # Built: the checkpoint served an interrupted build only, and a later build starts afresh (on
    # a changed recipe or capture signal, resuming would stamp new metadata on old training).
    Path(config.checkpoint).unlink(missing_ok=True)
    record = {
        "name": name,
        "description": recipe["description"],
        "model": model_path.name,
        "architecture": architecture(result.model),
        "knobs": ", ".join(f"{s.knob.name} ({', '.join(f'{v:g}' for v in s.train_values)})"
                           for s in sweeps) or "none",
        "validation_esr": result.validation_esr,
        "validation_stft": result.validation_stft,
        "validated_on": result.holdout.describe(),
        "heldout_esr": heldout_esr,
        "train_steps": result.steps,
        "train_seconds": round(result.seconds, 1),
        "capture_seconds": seconds * len(grid),
        "machine": f"{processor_name()} ({platform.machine()} {platform.system()}), {os.cpu_count()} cores, "
                   # train() sets config.threads and gives the caller its own count back after
                   f"{config.threads or torch.get_num_threads()} torch thread(s), load average "
                   f"{os.getloadavg()[1]:.1f} at the end (other jobs share the machine)",
        "command": f"python training/build_presets.py {name}"
                   + "".join(f" --{k.replace('_', '-')} {v:g}" for k, v in overrides.items() if v),
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"== {name}: wrote {model_path} (validation ESR {esr_text(result.validation_esr)}, held-out {heldout_esr or 'none'})")
    return record


def _heldout_text(heldout: dict) -> str:
    return "; ".join(f"{', '.join(f'{k}={v:g}' for k, v in json.loads(s).items())}: {esr_text(e)}"
                     for s, e in heldout.items()) or "-"


def write_results_table(results_dir: Path, target: Path) -> None:
    rows = [json.loads(p.read_text()) for p in sorted(results_dir.glob("*.json"))]
    lines = [
        "# Training results",
        "",
        "Generated by `training/build_presets.py` from `training/results/*.json`; do not edit by hand.",
        "Validation ESR is auraloss's error-to-signal ratio on the audio held out of each capture",
        "('validated on': the last 15% of a capture of the standard signal is its strummed chords; the",
        "last 15% of every 1 s holds out a piece of every part of it), computed on the exported model",
        "running in the C++ kernel; held-out settings ESR scores knob settings never trained on, over a",
        "whole capture made with another seed (alignment clicks, sweeps from 20 Hz at four levels, noise,",
        "notes and chords), so it also shows what a held-out end does not, e.g. low-frequency errors on",
        "loud sweeps. Train time is the training loop's wall time (capturing and held-out scoring come on",
        "top), capped by the recipe's max_seconds.",
        "",
        "| model | architecture | knobs (trained values) | validation ESR | validated on | held-out settings ESR | MR-STFT | steps | train time (s) | machine | command |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['architecture']} | {r.get('knobs', 'none')} | {esr_text(r['validation_esr'])} | "
            # Records from before the spans held out each capture's end.
            f"{r.get('validated_on', 'the last 15%')} | {_heldout_text(r.get('heldout_esr') or {})} | {r['validation_stft']:.3f} | "
            f"{r['train_steps']} | {r['train_seconds']} | {r['machine']} | `{r['command']}` |"
        )
    lines += ["", "Devices:", ""] + [f"- **{r['name']}**: {r['description']}" for r in rows]
    target.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", help="recipe names (default: all)")
    p.add_argument("--out", type=Path, default=PRESETS, help="where models go (default: presets/)")
    p.add_argument("--results", type=Path,
                   help="where the numbers go, RESULTS.md beside it (default: training/results/, or "
                        "OUT/results/ with --out, so that a quick try leaves the shipped models' table alone)")
    p.add_argument("--seconds", type=float, help="override the capture length (quick tries)")
    p.add_argument("--max-steps", type=int, help="override the training steps (quick tries)")
    args = p.parse_args(argv)
    if args.results is None:
        args.results = RESULTS if args.out.resolve() == PRESETS.resolve() else args.out / "results"
    paths = [RECIPES / f"{n}.json" for n in args.names] or sorted(RECIPES.glob("*.json"))
    for path in paths:
        if not path.exists():
            raise SystemExit(f"no recipe {path}")
        run_recipe(path, args.out, args.results, {"seconds": args.seconds, "max_steps": args.max_steps})
    write_results_table(args.results, args.results.parent / "RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
