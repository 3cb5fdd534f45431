"""Training speed: optimizer steps per second of neuralfx.training.train, per device.

Not a unit test: a measurement script.

    python3 benchmarks/training_speed.py [--archs lstm,gru,wavenet-standard] [--devices cpu,cuda]
        [--batch-sizes 8,32] [--steps 4] [--min-seconds 1] [--repeats 3] [--threads 1]
        [--json FILE]
    python3 benchmarks/training_speed.py --render benchmarks/results/training/h200.json

Each case runs the public train() twice, for N and for 2N steps, each ending in one validation,
and takes N over the difference of the two run times: data checks, alignment, model building
and the validation are in both runs and cancel out. An unmeasured run goes first, and the
median of --repeats pairs is printed. A step is one truncated-backpropagation chunk
(TrainConfig.tbptt_samples) of every sequence in the batch, so training samples per second =
steps/s x batch size x tbptt_samples. The CPU runs on --threads torch threads (train()'s
default is 1, as for recipes). Devices compare within one run: wall time on a shared machine
also counts other jobs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys

import pedalboard
import torch

from neuralfx.capture import MIN_SECONDS, capture
from neuralfx.machine import processor_name
from neuralfx.training import Capture, TrainConfig, train


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return processor_name()


def steps_per_second(captures: list[Capture], config: TrainConfig, steps: int, repeats: int,
                     min_seconds: float) -> float:
    """N over the time 2N steps take beyond N steps (see the module's docstring), the median of
    repeats pairs after one unmeasured run that takes the first-call costs (cuDNN handles, kernel
    loads, oneDNN primitives). N starts at steps and doubles until the N extra steps take at
    least min_seconds, so that a fast device is not timed on a few milliseconds."""
    def seconds(n: int) -> float:
        run = dataclasses.replace(config, max_steps=n, validate_every=10**9)
        return train(captures, run, progress=lambda _: None).seconds

    seconds(config.chunks_per_segment)
    n, rates = steps, []
    while len(rates) < repeats:
        extra = seconds(2 * n) - seconds(n)
        if extra < min_seconds and not rates:
            n *= 2
            continue
        if extra <= 0:
            raise RuntimeError(f"{2 * n} steps took no longer than {n}: raise --min-seconds")
        rates.append(n / extra)
    return statistics.median(rates)


def _csv(kind):
    return lambda text: [kind(v) for v in text.split(",") if v]


def header(devices: dict[str, str]) -> list[str]:
    names = list(devices)
    return ([f"  {d}: {devices[d]}" for d in names]
            + [f"{'arch':18} {'batch':>5} " + " ".join(f"{d + ' steps/s':>16}" for d in names)
               + "".join(f" {d + '/' + names[0]:>14}" for d in names[1:])])


def row(result: dict) -> str:
    rates = result["steps_per_second"]
    names = list(rates)
    return (f"{result['arch']:18} {result['batch_size']:5d} " + " ".join(f"{rates[d]:16.2f}" for d in names)
            + "".join(f" {rates[d] / rates[names[0]]:14.2f}" for d in names[1:]))


def table(results: dict) -> str:
    """The table a run prints, from its --json file: docs/TRAINING-SPEED.md shows this text, and
    tests/test_performance_page.py checks that it does."""
    return "\n".join(header(results["devices"]) + [row(r) for r in results["results"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=_csv(str), default=["lstm", "gru", "wavenet-standard"])
    parser.add_argument("--devices", type=_csv(str), default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    parser.add_argument("--batch-sizes", type=_csv(int), default=[8, 32])
    parser.add_argument("--steps", type=int, default=4,
                        help="N: the runs take N and 2N steps (rounded up to whole segments of "
                             "TrainConfig.chunks_per_segment steps, which share one warm-up)")
    parser.add_argument("--min-seconds", type=float, default=1.0,
                        help="N doubles until the N extra steps take this long")
    parser.add_argument("--repeats", type=int, default=3, help="pairs of runs per case; the median is printed")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--capture-seconds", type=float, default=MIN_SECONDS,
                        help=f"length of the training capture (at least {MIN_SECONDS:g}, the capture signal's)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--render", metavar="JSON", help="print the table of a saved run and stop")
    args = parser.parse_args()
    if args.render:
        with open(args.render) as f:
            print(table(json.load(f)))
        return
    if min(args.steps, args.repeats, args.threads) < 1 or min(args.batch_sizes, default=0) < 1:
        parser.error("--steps, --repeats, --threads and --batch-sizes must be at least 1")
    if not args.min_seconds > 0:
        parser.error("--min-seconds must be above 0")
    if not args.capture_seconds >= MIN_SECONDS:  # the capture signal's own check ended in a traceback
        parser.error(f"--capture-seconds must be at least {MIN_SECONDS:g}")
    per_segment = TrainConfig.chunks_per_segment
    steps = -(-args.steps // per_segment) * per_segment

    amp = pedalboard.Pedalboard([pedalboard.Distortion(drive_db=12.0), pedalboard.LowpassFilter(4500.0)])
    captures = [Capture(capture(amp, 48000, args.capture_seconds))]
    print(f"torch {torch.__version__}, python {sys.version.split()[0]}, {args.threads} CPU thread(s)")
    devices = {d: _device_name(d) for d in args.devices}
    print("\n".join(header(devices)))
    rows = []

    def save() -> None:  # after every row: a run cut short keeps what it measured
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"command": " ".join(sys.argv), "torch": torch.__version__, "threads": args.threads,
                           "repeats": args.repeats, "min_seconds": args.min_seconds,
                           "devices": devices, "results": rows}, f, indent=1)

    for arch in args.archs:
        for batch in args.batch_sizes:
            rates = {}
            for device in args.devices:
                config = TrainConfig(arch=arch, batch_size=batch, device=device, threads=args.threads)
                rates[device] = steps_per_second(captures, config, steps, args.repeats, args.min_seconds)
            rows.append({"arch": arch, "batch_size": batch, "tbptt_samples": TrainConfig.tbptt_samples,
                         "steps_per_second": rates})
            print(row(rows[-1]), flush=True)
            save()


if __name__ == "__main__":
    main()
