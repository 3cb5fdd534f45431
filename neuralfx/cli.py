"""The `neuralfx` command line: demo, process, info, capture, train, fit, report."""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from .alignment import DEFAULT_MAX_LATENCY_SECONDS
from .architectures import ARCHITECTURES, RECURRENT
from .schedules import LR_SCHEDULES
from .scores import esr_text


# `fit` notes a validation ESR above this (fits that found their device's settings gave 1e-9 to
# 1e-4; one stuck in a local minimum 4.5e-3, docs/DSP.md).
FIT_ESR_NOTE = 1e-3


def _positive(kind: type, zero: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number of `kind` above zero (at least zero with zero=True)."""
    def parse(text: str) -> float:
        value = kind(text)
        if not (value >= 0 if zero else value > 0):
            raise argparse.ArgumentTypeError(f"must be {'at least' if zero else 'above'} 0, got {text}")
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be finite, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in "invalid int value"
    return parse


def _knob_settings(pairs: Sequence[str]) -> dict[str, float]:
    settings = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--knob expects NAME=VALUE, got '{pair}'")
        if name in settings:  # the last one won, silently
            raise ValueError(f"--knob {name} is given twice ({settings[name]:g} and {value}): give it once")
        try:
            settings[name] = float(value)
        except ValueError:
            raise ValueError(f"--knob {name}: '{value}' is not a number") from None
    return settings


def example_clip(sample_rate: float = 48000, seconds: float = 8.0) -> np.ndarray:
    """The demo's example clip: plucked single notes then strummed chords (deterministic)."""
    from .capture import _notes

    rng = np.random.default_rng(2024)
    half = seconds / 2
    x = np.concatenate([_notes(half, sample_rate, rng, chords=False), _notes(half, sample_rate, rng, chords=True)])
    return (0.8 * x / np.max(np.abs(x))).astype(np.float32)


def cmd_demo(args: argparse.Namespace) -> int:
    from . import audio
    from .chain import Chain

    chain = Chain.from_preset(args.preset)  # first: a preset refused leaves no clip behind
    out_dir = Path(args.out_dir)
    clip_path = out_dir / "example_riff.wav"
    audio.write(clip_path, example_clip(), 48000)
    result_path = out_dir / f"example_riff_{args.preset}.wav"
    chain.process_file(clip_path, result_path)
    print(f"example clip:  {clip_path}")
    print(f"processed:     {result_path}  (chain preset '{args.preset}': {chain!r})")
    return 0


def cmd_process(args: argparse.Namespace) -> int:
    from . import load
    from .chain import Chain
    from .files import writable_file

    writable_file(args.output, "output", example="out.wav")  # a read-only folder named a hidden temp file

    if args.model:
        chain = Chain([load(args.model, resample=args.resample, **_knob_settings(args.knob))], resample=args.resample)
    else:
        chain = Chain.from_preset(args.preset, resample=args.resample)
        knobs = _knob_settings(args.knob)
        effects = [s for s in chain.stages if hasattr(s, "set_knob")]
        for name, value in knobs.items():
            targets = [e for e in effects if any(k.name == name for k in e.knobs)]
            if not targets:
                raise ValueError(f"--knob {name}: no model in preset '{args.preset}' has that knob")
            for e in targets:
                e.set_knob(name, value)
    report = chain.process_file(args.input, args.output, buffer_size=args.buffer_size)
    note = f", processed at {report.resampled_to:g} Hz" if report.resampled_to else ""
    print(f"wrote {report.output_path} ({report.format}, {report.frames} frames, {report.channels} ch, "
          f"{report.sample_rate:g} Hz{note})")
    if report.clipped:
        print(f"note: {report.clipped} of {report.frames * report.channels} samples (all channels) were above full "
              f"scale and {report.format.split(',')[0]} clipped them; a .wav output keeps them (32-bit float)")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from . import load, modelfile
    from .dsp.fit import recovered_settings, settings_lines
    from .model import Model
    from .holdout import Holdout
    from .presets import resolve_model

    path = resolve_model(args.model)
    mf = modelfile.load(path)
    effect = load(path)
    multiply_adds, tail = effect.multiply_adds_per_sample, effect.tail_seconds
    # A DSP block's weights are its settings (a fit's result): shown by name, as fit prints them.
    model = Model.from_modelfile(mf)
    if args.json:
        print(json.dumps({"path": str(path), "sample_rate": mf.sample_rate,
                          "blocks": [{"type": b.type, "config": b.config, "settings": r["settings"], "knobs": r["knobs"]}
                                     for b, r in zip(mf.blocks, recovered_settings(model))],
                          "multiply_adds_per_sample": multiply_adds,
                          "tail_seconds": tail if math.isfinite(tail) else None,  # JSON has no Infinity
                          "knobs": [k.__dict__ for k in mf.knobs], "metadata": mf.metadata}, indent=2))
        return 0
    params = sum(int(np.prod(w.shape)) for b in mf.blocks for w in b.weights.values())
    print(f"model:          {path}")
    print(f"sample rate:    {mf.sample_rate:g} Hz")
    print(f"blocks:         {' -> '.join(f'{b.type}({json.dumps(b.config)})' for b in mf.blocks)}")
    for line in settings_lines(model):
        print(f"settings:       {line}")
    print(f"parameters:     {params}")
    print(f"multiply-adds:  {multiply_adds} per sample and channel in its networks, DSP blocks not counted "
          "(neuralfx-bench measures the CPU cost)")
    print(f"knobs:          {', '.join(f'{k.name} [{k.min:g}..{k.max:g}] {k.unit}'.rstrip() for k in mf.knobs) or 'none'}")
    if tail > 0:
        print(f"tail:           {tail:.6g} s after the input falls silent, at most (its echoes to -60 dB)")
    meta = mf.metadata
    if "validation_esr" in meta:
        held = ""
        if "validation" in meta or isinstance(meta.get("config"), dict):
            try:
                held = f" (held out: {Holdout.of_model(meta, mf.sample_rate).describe()} of each capture)"
            except ValueError as e:  # the rest of the file is still worth showing
                held = f" (held-out audio unknown: {e})"
        print(f"validation ESR: {esr_text(meta['validation_esr'])}{held}")
    for key, value in meta.get("heldout_esr", {}).items():
        print(f"held-out ESR:   {esr_text(value)} at {', '.join(f'{k}={v:g}' for k, v in json.loads(key).items())}")
    latencies = sorted({(a["latency_samples"], a["latency_ms"], a["polarity"]) for a in meta.get("alignment", [])})
    # "inverted" alone read the same for a model trained on the target flipped back and for one
    # that learnt to invert.
    treated = {"flip": " (flipped back for training)", "keep": " (kept: the model inverts)"}.get(
        meta.get("config", {}).get("polarity"), "")
    for samples, ms, polarity in latencies:
        print(f"latency:        {samples} samples ({ms:g} ms) removed, polarity {polarity}"
              + (treated if polarity == "inverted" else ""))
    if meta.get("config", {}).get("align") is False:
        print("latency:        none removed (trained without alignment: the captures' timing is the device's)")
    for name, ms in meta.get("measured_delay_ms", {}).items():
        print(f"delay time:     {name} " + (f"started at {ms:.6g} ms, measured in the captures" if ms is not None
                                             else "not measured (no echo stood out)"))
    for key in ("name", "trained_on", "train_steps", "train_seconds", "created"):
        if key in meta:
            kept = meta.get("best_step") if key == "train_steps" else None
            print(f"{key.replace('_', ' ') + ':':<15} {meta[key]}"
                  + (f" (the weights of step {kept}, the best validation)" if kept not in (None, meta[key]) else ""))
    return 0


def _device_stages(args: argparse.Namespace) -> tuple[list, Path]:
    """The device as chain-preset stages and the folder their files are relative to: the --chain
    preset's, or one stage of the --plugin file with its --plugin-param values."""
    from .chain import plugin_from_file
    from .dsp.fit import option_value
    from .files import read_json
    from .presets import resolve_chain

    if args.chain:
        if args.plugin_param:
            raise ValueError("--plugin-param sets a --plugin's parameters; a chain preset sets its stages' own")
        path = resolve_chain(args.chain)
        doc = read_json(path, "chain preset")
        stages = doc.get("stages") if isinstance(doc, dict) else None
        if not isinstance(stages, list) or not stages:
            raise ValueError(f"chain preset '{path}': 'stages' must be a non-empty list")
        return stages, path.parent
    params: dict = {}
    for pair in args.plugin_param:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--plugin-param expects NAME=VALUE or NAME=raw:0..1, got '{pair}'")
        if name in params:
            raise ValueError(f"--plugin-param {name} is given twice: give it once")
        if value.startswith("raw:"):
            raw = option_value(value[len("raw:"):])
            params[name] = {"raw": raw}
        else:
            params[name] = option_value(value)
    # Loaded once here, so that a bad path or setting is named as the user gave it.
    plugin_from_file(Path(args.plugin), params, where="--plugin", params_where="--plugin-param")
    return [{"plugin_file": str(Path(args.plugin).resolve()), "params": params}], Path.cwd()


def cmd_capture(args: argparse.Namespace) -> int:
    """Every capture folder holds input.wav, the target(s) and manifest.json naming them."""
    from .chain import stages_with_paths
    from .files import writable_folder
    from .sweep import capture_sweep, settings_grid, signal_record, sweeps_from_specs, write_manifest

    writable_folder(args.out_dir)
    stages, base = _device_stages(args)
    sweeps = sweeps_from_specs(stages, base, args.sweep, args.heldout)
    # The files of an earlier capture (other settings' targets, a longer input) stayed beside the
    # new ones, and its manifest, with any hand edits, was replaced without a word.
    present = sorted(p.name for p in Path(args.out_dir).iterdir()) if Path(args.out_dir).is_dir() else []
    if present:
        raise ValueError(f"out_dir {args.out_dir} already holds {', '.join(present[:4])}"
                         f"{', ...' if len(present) > 4 else ''}: "
                         "give a new or empty folder, so that the capture's files are not mixed with others")
    if sweeps:
        print(f"capturing {len(settings_grid(sweeps))} setting(s) to train on and "
              f"{len(settings_grid(sweeps, heldout=True))} held out")
    train, held = capture_sweep(stages, base, sweeps, args.sample_rate, args.seconds, args.seed)
    manifest = write_manifest(args.out_dir, stages_with_paths(stages, base), sweeps, train, held,
                              signal_record(args.seconds, args.seed))
    return _wrote(manifest, train[0].pair)


def _wrote(manifest: Path, pair) -> int:
    print(f"wrote {manifest.parent}/ ({len(pair.input) / pair.sample_rate:.1f} s at {pair.sample_rate:g} Hz); "
          f"train with: neuralfx train --manifest {shlex.quote(str(manifest))} -o MODEL.nfx")
    return 0


def cmd_signal(args: argparse.Namespace) -> int:
    """The capture signal alone, to play through a hardware device and record."""
    from .audio import BIT_DEPTH_BY_SUFFIX, write
    from .capture import capture_signal
    from .files import writable_file

    writable_file(args.output, "output", example="signal.wav")
    if args.sample_rate != int(args.sample_rate):  # Pedalboard said only "requires an integer sample rate"
        raise ValueError(f"--sample-rate {args.sample_rate:g}: audio files take a whole number of Hz")
    if Path(args.output).suffix.lower() not in BIT_DEPTH_BY_SUFFIX:  # an encoder's delay, padding and changes
        raise ValueError(f"{args.output}: write the signal to a lossless file, {', '.join(sorted(BIT_DEPTH_BY_SUFFIX))}: "
                         "it is the training input, sample for sample")
    path = write(args.output, capture_signal(args.sample_rate, args.seconds, args.seed), args.sample_rate)
    print(f"wrote {path} ({args.seconds:g} s at {args.sample_rate:g} Hz): play it through the device, record its "
          f"output at the same rate from one start to one end, then: neuralfx train {shlex.quote(str(path))} "
          "RECORDED.wav -o MODEL.nfx")
    return 0


def _pair_text(args: argparse.Namespace) -> str:
    """'IN -> TARGET' for a model's "trained on", with the channels chosen of a re-amp file."""
    def named(path: str, channel: Optional[int]) -> str:
        return Path(path).name + (f" (channel {channel})" if channel else "")

    return f"{named(args.input, args.input_channel)} -> {named(args.target, args.target_channel)}"


def _pair_channels(args: argparse.Namespace) -> dict:
    """metadata.channels where a channel was chosen, so that report scores the same ones."""
    if not (args.input_channel or args.target_channel):
        return {}
    return {"channels": {"input": args.input_channel or 1, "target": args.target_channel or 1}}


def _training_data(args: argparse.Namespace) -> tuple[list, list, list, str, Optional[dict]]:
    """(captures, held-out captures, knobs, what they are, the recipe that remakes them or None)
    from --manifest or an INPUT TARGET pair."""
    from .datacheck import read_pair
    from .sweep import load_manifest
    from .training import Capture

    if args.manifest:
        if args.input or args.target:
            raise ValueError("give either INPUT TARGET or --manifest, not both")
        if args.input_channel or args.target_channel:
            raise ValueError("--input-channel and --target-channel choose channels of INPUT TARGET files, not of a "
                             "manifest's captures")
        manifest = load_manifest(args.manifest, args.sample_rate)
        return manifest.train, manifest.heldout, manifest.knobs, manifest.describe(), manifest.capture_recipe()
    if not (args.input and args.target):
        raise ValueError("give INPUT.wav TARGET.wav (the device's input and its recorded output) or --manifest")
    pair = read_pair(args.input, args.target, args.sample_rate, input_channel=args.input_channel,
                     target_channel=args.target_channel)
    return [Capture(pair)], [], [], _pair_text(args), None


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from .dsp.fit import load_template, model_for_captures
    from .files import writable_file, writable_model_file
    from .training import TrainConfig, train

    writable_model_file(args.output)
    if args.checkpoint:
        writable_file(args.checkpoint, "--checkpoint", example="run.ckpt")
        if Path(args.checkpoint).resolve() == Path(args.output).resolve():  # the model overwrote it, then failed to resume
            raise ValueError(f"--checkpoint {args.checkpoint} is the output model file: give the checkpoint a path of its "
                             "own, e.g. run.ckpt")
    sizes = {k: v for k, v in (("hidden_size", args.hidden_size), ("num_layers", args.num_layers)) if v is not None}
    if sizes and args.arch not in RECURRENT:
        raise ValueError(f"--hidden-size and --num-layers apply to {' and '.join(RECURRENT)}; --arch {args.arch} has a "
                         "fixed layout")
    if args.template and (sizes or args.arch != "lstm"):
        raise ValueError("--template names the model's blocks: leave out --arch, --hidden-size and --num-layers")
    if args.dsp_lr_scale and not args.template:  # it was ignored
        raise ValueError(f"--dsp-lr-scale sets the step of DSP blocks, which only a --template has; --arch {args.arch} "
                         "is a network alone")
    if args.lr_schedule == "cosine" and args.max_minutes and not args.max_steps:
        raise ValueError("--lr-schedule cosine decays over --max-steps, and --max-minutes alone sets no step limit: "
                         "give --max-steps too, or leave --lr-schedule out")
    if args.no_align and (args.polarity != "error" or args.max_latency != DEFAULT_MAX_LATENCY_SECONDS):
        raise ValueError("--polarity and --max-latency act on the alignment, which --no-align skips: leave them out")
    template = load_template(args.template) if args.template else None
    captures, heldout, knobs, what, recipe = _training_data(args)
    model = None
    if args.template:
        torch.manual_seed(args.seed)  # the template's networks start from seeded weights, as train() seeds its own
        model = model_for_captures(template, captures[0].pair.sample_rate, knobs)
    given = {k: v for k, v in (("batch_size", args.batch_size), ("dsp_lr_scale", args.dsp_lr_scale)) if v}
    # With --max-minutes alone the time decides: TrainConfig's default step limit cut a 30-minute
    # request on a GPU after about a minute.
    config = TrainConfig(arch=args.arch, **sizes, **given,
                         max_steps=args.max_steps or (None if args.max_minutes else TrainConfig.max_steps),
                         max_seconds=args.max_minutes * 60 if args.max_minutes else None, seed=args.seed,
                         lr_schedule=args.lr_schedule,
                         device=args.device, threads=args.threads, checkpoint=args.checkpoint,
                         align=not args.no_align, max_latency_seconds=args.max_latency, polarity=args.polarity,
                         allow_clipping=args.allow_clipping)
    try:
        result = train(captures, config, knobs=knobs, model=model, heldout=heldout)
    except RuntimeError as e:
        # CUDA's allocator raises OutOfMemoryError; the CPU's a RuntimeError "DefaultCPUAllocator:
        # can't allocate memory: you tried to allocate N bytes".
        if not isinstance(e, torch.OutOfMemoryError) and "can't allocate memory" not in str(e):
            raise
        raise ValueError(f"out of memory training batches of {config.batch_size} segments ({str(e).splitlines()[0]}): "
                         "lower --batch-size") from None
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under torchrun, rank 0 writes the model
    trained_on = args.trained_on or what
    metadata = result.metadata(trained_on, config, name=Path(args.output).stem)
    if recipe is not None:  # `neuralfx report MODEL` can then remake the captures without the files
        metadata["capture"] = recipe
    metadata.update(_pair_channels(args))
    path = result.model.save(args.output, metadata)
    print(f"wrote {path} (validation ESR {esr_text(result.validation_esr)})")
    if not result.validation_esr < 1:  # a run of a few steps, or a learning rate far too high
        print(f"note: validation ESR {esr_text(result.validation_esr)} is not below 1: the model does worse than "
              "silence would; train longer (--max-steps, --max-minutes)", file=sys.stderr)
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    from .datacheck import check_unaligned, describe_alignment, prepare, read_pair
    from .dsp.fit import (fit, load_template, model_from_chain, model_from_template, recovered_settings, settings_text,
                          require_network_weights)
    from .dsp.delay import UNMEASURED_REASONS
    from .files import writable_model_file

    if args.output:
        writable_model_file(args.output)
    def note(message: str) -> None:  # stderr under --json, so that stdout stays one JSON document
        print(message, file=sys.stderr if args.json else sys.stdout)

    pair = read_pair(args.input, args.target, progress=note, input_channel=args.input_channel,
                     target_channel=args.target_channel)
    found = None
    if args.align:
        pair, found = prepare(pair, args.max_latency, args.polarity, args.allow_clipping, what="pair")
        note(f"pair: {describe_alignment(found, args.polarity)}")
    else:  # the chain may model a delay: the pair's timing is the device's
        pair = check_unaligned(pair, args.allow_clipping, what="pair")
    if args.chain is not None:
        model = model_from_chain(args.chain, pair.sample_rate)
    else:
        template = load_template(args.template)
        if isinstance(template, dict):  # the rate comes from the audio, as for train --template
            rate = template.setdefault("sample_rate", pair.sample_rate)
            if isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate != pair.sample_rate:
                raise ValueError(f"input/target are {pair.sample_rate:g} Hz but the template says {rate:g} Hz: "
                                 "leave template.sample_rate out")
        model = model_from_template(template)
        require_network_weights(template, model)
    result = fit(model, pair.input, pair.target, steps=args.steps, lr=args.lr, segment=args.segment, batch=args.batch,
                 seed=args.seed, hold=args.hold, restarts=args.restarts)
    path = None
    if args.output:
        metadata = result.metadata(args.trained_on or _pair_text(args), found, args.polarity, args.max_latency)
        path = result.model.save(args.output, {**metadata, **_pair_channels(args)})
    for name, ms in result.measured.items():
        note(f"{name}: started at {ms:.6g} ms, the echo measured in the pair's response" if ms is not None else
             f"note: {name} could not be measured in the pair's response ({UNMEASURED_REASONS}): descent alone "
             "rarely finds a delay time, so give it in the chain and --hold it")
    if len(result.tries) > 1:
        # A run after the first drew its frequencies from its seed, so `--seed N` alone does not
        # repeat it: the starts are printed (and kept in the model file's metadata.fit_start).
        starts = ", ".join(f"{name}={value:.6g} Hz" for name, value in result.start.items())
        note("validation ESR by seed: " + ", ".join(f"{seed}: {esr_text(e)}" for seed, e in result.tries.items())
             + f"; kept seed {result.seed}" + (f" (started at {starts})" if starts else ""))
    if args.json:
        print(json.dumps({"blocks": recovered_settings(result.model), "measured": result.measured,
                          "validation_esr": result.validation_esr,
                          **({"tries": {str(k): v for k, v in result.tries.items()}, "seed": result.seed}
                             if len(result.tries) > 1 else {}),
                          "steps": result.steps, "seconds": round(result.seconds, 2),
                          "output": str(path) if path else None}, indent=2))
    else:
        for record in recovered_settings(result.model):
            print(f"{record['type']}: {settings_text(record) or 'no DSP parameters (weights held as given)'}")
        print(f"validation ESR {esr_text(result.validation_esr)}" + (f"; wrote {path}" if path else ""))
    if not result.validation_esr < FIT_ESR_NOTE:  # NaN too
        print(f"note: validation ESR {esr_text(result.validation_esr)} is above {FIT_ESR_NOTE:g}: the fit may have "
              "stopped in a local minimum (try --restarts 3, more --steps, or starting values in a "
              "--template), the chain may lack a block the device has, or the pair may not line up (--align)",
              file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .files import writable_folder
    from .report import write_report

    writable_folder(args.out_dir, "-o")
    try:
        report = write_report(args.model, args.out_dir, args.input, args.target, _knob_settings(args.knob),
                              args.segment_seconds, args.whole, (args.input_channel, args.target_channel))
    except ImportError as e:  # matplotlib missing: the message says what to install
        print(f"neuralfx report: error: {e}", file=sys.stderr)
        return 1
    for note in report.notes:
        print(f"note: {note}")
    print(f"ESR {report.esr:.6g}, MR-STFT {report.stft:.4g}; wrote {', '.join(p.name for p in report.paths)} "
          f"into {Path(args.out_dir)}")
    return 0


def _add_pair_checks(p: argparse.ArgumentParser, when: str = "") -> None:
    """The options of the checks an input/target pair passes before train and fit use it; `when`
    says when they apply (fit: with --align)."""
    p.add_argument("--max-latency", type=_positive(float), default=DEFAULT_MAX_LATENCY_SECONDS,
                   help=f"largest device latency accepted, seconds{when}")
    p.add_argument("--polarity", choices=["error", "flip", "keep"], default="error",
                   help=f"an inverted target: stop (default), flip it back, or keep it{when}")
    p.add_argument("--allow-clipping", action="store_true", help="use the pair even if input or target clips")
    _add_channel_options(p)


def _add_channel_options(p: argparse.ArgumentParser, default: str = "the first") -> None:
    for end in ("input", "target"):
        p.add_argument(f"--{end}-channel", type=_positive(int), metavar="N",
                       help=f"the {end} file's channel to use, from 1 (default: {default}); a re-amp file with the "
                            "dry signal and the device's output on two channels is given as both files")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="neuralfx", description="Neural audio effects: capture, train, run.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="process the example clip with a shipped chain preset")
    d.add_argument("--preset", default="default")
    d.add_argument("--out-dir", default="out")
    d.set_defaults(func=cmd_demo)

    pr = sub.add_parser("process", help="process an audio file with a chain preset or a model")
    pr.add_argument("input")
    pr.add_argument("output")
    src = pr.add_mutually_exclusive_group()
    src.add_argument("--preset", default="default", help="chain preset name or .chain.json path")
    src.add_argument("--model", help="a model file (.nfx) or shipped model name, alone")
    pr.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE")
    pr.add_argument("--resample", action="store_true",
                    help="when the file's rate is not the model's, run the chain at the model's rate (every stage, "
                    "Pedalboard plugins included) and convert back")
    pr.add_argument("--buffer-size", type=_positive(int), default=8192)
    pr.set_defaults(func=cmd_process)

    i = sub.add_parser("info", help="describe a model file")
    i.add_argument("model")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_info)

    c = sub.add_parser("capture", help="record the capture signal through a device under test")
    c.add_argument("out_dir")
    dev = c.add_mutually_exclusive_group(required=True)
    dev.add_argument("--chain", help="a chain preset of Pedalboard plugins acting as the device")
    dev.add_argument("--plugin", help="a VST3/AU plugin path acting as the device (stage 0 for --sweep)")
    c.add_argument("--plugin-param", action="append", default=[], metavar="NAME=VALUE",
                   help="set a --plugin parameter, by the name Pedalboard gives it (repeatable); NAME=raw:0..1 "
                        "sets the plugin's normalized value")
    c.add_argument("--seconds", type=_positive(float), default=180.0)
    c.add_argument("--sample-rate", type=_positive(float), default=48000)
    c.add_argument("--seed", type=_positive(int, zero=True), default=0)
    c.add_argument("--sweep", action="append", default=[], metavar="STAGE.PARAM=V1,V2,...",
                   help="capture the device at each value of stage STAGE's parameter PARAM (0-based stage index); "
                        "several --sweep make a grid; writes one target per setting and manifest.json")
    c.add_argument("--heldout", action="append", default=[], metavar="STAGE.PARAM=V1,V2,...",
                   help="values of a swept parameter held out of training and scored after it")
    c.set_defaults(func=cmd_capture)

    sg = sub.add_parser("signal", help="write the capture signal, to play through a hardware device and record",
                        description="Writes the standard capture signal (alignment clicks, sweeps, noise, notes, "
                                    "chords) to a lossless file (WAV as 32-bit float, FLAC or AIFF as 24-bit), for "
                                    "devices neuralfx cannot run itself: play it through the device, record the "
                                    "output, and train on the two files.")
    sg.add_argument("output", help="the file to write (.wav, .flac, .aif, .aiff)")
    sg.add_argument("--seconds", type=_positive(float), default=180.0)
    sg.add_argument("--sample-rate", type=_positive(float), default=48000)
    sg.add_argument("--seed", type=_positive(int, zero=True), default=0)
    sg.set_defaults(func=cmd_signal)

    t = sub.add_parser("train", help="fit an amp model (LSTM by default) to an input/target pair or to knob captures",
                       description="Trains on INPUT.wav TARGET.wav (recorded anywhere; mono, or the first channel "
                                   "of each file) or on the knob captures of a --manifest. The pair is checked "
                                   "(clipping, silence, level, rates, lengths) and the device's latency is found "
                                   "by cross-correlation and removed before training.")
    t.add_argument("input", nargs="?", help="the signal sent into the device")
    t.add_argument("target", nargs="?", help="the device's recorded output")
    t.add_argument("--manifest", help="manifest.json of `neuralfx capture --sweep`: one knob-conditioned model")
    t.add_argument("-o", "--output", required=True)
    t.add_argument("--arch", default="lstm", choices=ARCHITECTURES,
                   help="the network: recurrent (--hidden-size, --num-layers apply) or convolutional (NAM WaveNet layouts, TCN)")
    t.add_argument("--hidden-size", type=_positive(int), help="recurrent units (lstm, gru; default 32)")
    t.add_argument("--num-layers", type=_positive(int), help="recurrent layers (lstm, gru; default 1)")
    t.add_argument("--template", help="JSON {\"blocks\": [{type, config}, ...]}: train this chain of blocks (DSP "
                                      "blocks with knob bindings, EQ -> LSTM -> EQ, ...) instead of --arch (docs/DSP.md)")
    t.add_argument("--no-align", action="store_true",
                   help="train on the captures' timing as it is, without finding and removing a latency: for a "
                        "--template with a Delay block modelling a delay pedal, whose echo alignment takes for the "
                        "latency at a mix of 0.5 or more (and refuses as ambiguous below)")
    t.add_argument("--dsp-lr-scale", type=_positive(float),
                   help="DSP parameters' step as a share of the network's learning rate, times their range "
                        "(TrainConfig.dsp_lr_scale; default 0.1 beside a network, 2 for a chain of DSP blocks only)")
    t.add_argument("--batch-size", type=_positive(int),
                   help="segments per optimizer step (default: TrainConfig.batch_size); on an H200 a step of 32 "
                        "took about as long as one of 8 (docs/TRAINING-SPEED.md)")
    t.add_argument("--max-steps", type=_positive(int),
                   help="stop after this many optimizer steps (default: TrainConfig.max_steps, 4000; none with --max-minutes)")
    t.add_argument("--max-minutes", type=_positive(float),
                   help="stop after this much training time (with no step limit unless --max-steps is given); a run "
                        "resumed from --checkpoint counts the time of the runs before it")
    t.add_argument("--lr-schedule", choices=LR_SCHEDULES, default="auto",
                   help="plateau: halve the learning rate when validation stalls, stop early when it stays stalled; "
                        "cosine: decay it to 0 over --max-steps, no early stop; auto (default): cosine for a "
                        "--template of DSP blocks alone without --max-minutes, plateau otherwise "
                        "(TrainConfig.lr_schedule)")
    t.add_argument("--seed", type=_positive(int, zero=True), default=0)
    t.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda, ...")
    t.add_argument("--threads", type=_positive(int), default=1, help="torch CPU threads (1 is fastest for small nets)")
    t.add_argument("--checkpoint", help="checkpoint file: written during training, resumed from if it exists")
    t.add_argument("--trained-on", help="what the capture imitates, stored in the model's metadata")
    t.add_argument("--sample-rate", type=_positive(float), help="refuse files at any other rate")
    _add_pair_checks(t)
    t.set_defaults(func=cmd_train)

    f = sub.add_parser("fit", help="recover the settings of a DSP chain (EQ, gain, waveshaper...) from an input/target pair")
    f.add_argument("input")
    f.add_argument("target")
    blocks = f.add_mutually_exclusive_group(required=True)
    blocks.add_argument("--chain", help='blocks to fit, e.g. "lowshelf,peak,highshelf,gain" (see neuralfx/dsp/fit.py)')
    blocks.add_argument("--template", help="JSON {\"blocks\": [{type, config, weights}, ...], \"knobs\": [...]}: the chain "
                        "to fit; a network in it needs its weights, which fit holds fixed (see neuralfx/dsp/fit.py)")
    f.add_argument("-o", "--output", help="write the fitted model file here")
    f.add_argument("--json", action="store_true", help="print the recovered settings as JSON")
    f.add_argument("--steps", type=_positive(int), default=300)
    f.add_argument("--lr", type=_positive(float), default=0.01, help="step size as a fraction of each parameter's range")
    f.add_argument("--segment", type=_positive(int), default=8192, help="samples per training segment")
    f.add_argument("--batch", type=_positive(int), default=4, help="segments per step")
    f.add_argument("--seed", type=_positive(int, zero=True), default=0)
    f.add_argument("--restarts", type=_positive(int), default=1,
                   help="fit this many times, seeds --seed, --seed + 1, ... (other segments; each run after the "
                        "first starts its filter frequencies anew, drawn over their range), and keep the lowest "
                        "validation ESR: a way out of a local minimum")
    f.add_argument("--hold", action="append", default=[], metavar="WEIGHT",
                   help="keep a DSP parameter at its --chain or template value: its name in the printed "
                        "settings (delay_ms) where one block has it, else as in the model (blocks.0.delay_ms); "
                        "repeatable")
    f.add_argument("--trained-on", help="what the target imitates, stored in the model's metadata")
    f.add_argument("--align", action="store_true",
                   help="find the device's latency (and polarity) and remove it before fitting, as train does; "
                        "off by default, since a chain with a delay block models the delay itself")
    _add_pair_checks(f, " (with --align)")
    f.set_defaults(func=cmd_fit)

    r = sub.add_parser("report", help="plot how well a model matches its target (PNG plots and summary.txt)",
                       description="Loss curves, waveform overlay, error spectrogram, ESR per segment and a summary. "
                                   "Without --input/--target the audio is remade from the model's metadata "
                                   "(models built by training/build_presets.py).")
    r.add_argument("model", help="a model file (.nfx) or shipped model name")
    r.add_argument("-o", "--out-dir", required=True, help="folder for the PNG files and summary.txt")
    r.add_argument("--input", help="input WAV of a pair recorded through the device (with --target)")
    r.add_argument("--target", help="the device's output WAV for --input")
    _add_channel_options(r, "the one the model was trained on where it says and the file has it, else the first")
    r.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                   help="knob setting for the pair; without a pair, a trained setting (scored on its held-out audio) "
                        "or any other (captured there from the model's metadata)")
    r.add_argument("--segment-seconds", type=_positive(float), default=1.0, help="segment length of the ESR-per-segment plot")
    r.add_argument("--whole", action="store_true",
                   help="score the whole remade training captures, the part trained on too, with an ESR per section "
                        "of the capture signal (sweeps, noise, notes, chords); by default the audio training held out")
    r.set_defaults(func=cmd_report)
    for command in sub.choices.values():  # a misspelt option is reported with its command's usage
        command.set_defaults(command_parser=command)
    return p


def _stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it (poll flags its write end: POLLERR on
    Linux, POLLHUP on BSD and macOS)."""
    import select

    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):  # replaced by an object without a descriptor: not a pipe
        return False
    if not hasattr(select, "poll"):  # Windows: no poll; a broken pipe there is stdout's, as before
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt, so that an output being
    written is removed on the way out (a `kill` left its hidden temporary file behind)."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated


def _on_sigterm(handler: object) -> object:
    """Installs handler for SIGTERM, returning the previous one (None off the main thread, where
    Python cannot set one, and where the parent chose to ignore SIGTERM: that choice stands)."""
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
            return None
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:
        return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:  # parse_args named them under the top-level usage, not the command's options
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    previous = _on_sigterm(_raise_terminated)
    try:
        return args.func(args)
    except BrokenPipeError as e:
        if not _stdout_reader_gone():  # another pipe broke (a subprocess's): that is an error to report
            print(f"neuralfx {args.command}: error: {e}", file=sys.stderr)
            return 1
        # The reader stopped early (`neuralfx info X | head`): nothing more to say, and Python's
        # own flush at exit must not fail on the closed pipe either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (OSError, ValueError, KeyError, TypeError) as e:
        # str() of a KeyError quotes its message.
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"neuralfx {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Ctrl-C: one line instead of a traceback, and the status shells give an interrupt.
        print(f"neuralfx {args.command}: interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        print(f"neuralfx {args.command}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        if previous is not None:
            _on_sigterm(previous)


if __name__ == "__main__":
    sys.exit(main())
