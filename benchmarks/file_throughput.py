"""File-processing throughput of the Python path (pybind11 module, GIL released), 1 thread vs N.

Not a unit test: a measurement script. It writes a few WAV files, then streams all of them
through a model with neuralfx.Chain.process_file (pedalboard.io reads and writes, the C++ kernel
processes with the GIL released): once on one thread, one file after the other, and once on
N threads, each thread with its own effect (an effect's state belongs to one thread). The two
alternate, repeat by repeat, so each ratio compares runs made seconds apart under the same load.

    python3 benchmarks/file_throughput.py [--model presets/crunch_amp.nfx] [--threads 2] [--json out.json]

Throughput is frames per second of audio processed (all files), median of the repeats. The
ratio N threads / 1 thread approaches N only when N cores are free: on a shared machine other
jobs hold cores too, so the script also records the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile

REPO = Path(__file__).resolve().parents[1]
# The installed package (make install) first; this checkout only where none is installed. Put
# first, the checkout shadowed the installed package, and a fresh clone has no compiled _core.
sys.path.append(str(REPO))
import neuralfx  # noqa: E402
from neuralfx.chain import Chain  # noqa: E402
from neuralfx.machine import usable_cores  # noqa: E402

DEFAULT_MODEL = REPO / "presets" / "crunch_amp.nfx"


def write_inputs(folder: Path, count: int, seconds: float, channels: int, rate: float) -> list[Path]:
    """`count` WAV files of noise at guitar-like level, distinct per file."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"input_{i}.wav"
        audio = (0.3 * rng.standard_normal((channels, int(seconds * rate)))).astype(np.float32)
        with AudioFile(str(path), "w", samplerate=rate, num_channels=channels) as f:
            f.write(audio)
        paths.append(path)
    return paths


def process_all(model: Path, inputs: list[Path], outputs: list[Path], threads: int) -> float:
    """Wall seconds to process every input into its output on `threads` threads."""
    chains = [Chain([neuralfx.load(model)]) for _ in range(threads)]  # built before timing
    jobs = list(zip(inputs, outputs))

    def worker(k: int) -> None:
        for src, dst in jobs[k::threads]:
            chains[k].process_file(src, dst)

    t0 = time.perf_counter()
    if threads == 1:
        worker(0)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(worker, range(threads)))
    return time.perf_counter() - t0


def measure(model: Path, files: int, seconds: float, channels: int, threads: int, repeats: int) -> dict:
    rate = neuralfx.load(model).sample_rate
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inputs = write_inputs(folder, files, seconds, channels, rate)
        outputs = [folder / f"output_{i}.wav" for i in range(files)]
        frames = files * int(seconds * rate)
        process_all(model, inputs, outputs, 1)  # warm-up: file cache, code paths
        single, multi, ratios = [], [], []
        for _ in range(repeats):
            one = frames / process_all(model, inputs, outputs, 1)
            many = frames / process_all(model, inputs, outputs, threads)
            single.append(one)
            multi.append(many)
            ratios.append(many / one)
    return {
        "model": os.path.relpath(model, REPO) if model.is_relative_to(REPO) else str(model),
        "files": files, "seconds_per_file": seconds, "channels": channels, "sample_rate": rate,
        "threads": threads, "repeats": repeats, "cores": usable_cores(),
        "frames_per_s_1_thread": statistics.median(single),
        f"frames_per_s_{threads}_threads": statistics.median(multi),
        "ratio": statistics.median(ratios),
        "ratios": ratios,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model file (.nfx)")
    p.add_argument("--files", type=int, default=4, help="number of files (>= threads)")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each file in seconds")
    p.add_argument("--channels", type=int, default=2)
    p.add_argument("--threads", type=int, default=2, help="threads for the parallel run (>= 2)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args()
    if args.threads < 2:
        p.error("--threads must be >= 2 (the 1-thread run is always made)")
    if args.files < args.threads:
        p.error(f"--files must be >= --threads ({args.threads}) so that every thread has a file")
    if args.seconds <= 0 or args.repeats < 1 or args.channels < 1:
        p.error("--seconds must be > 0, --repeats >= 1, --channels >= 1")
    load_before = os.getloadavg()
    result = measure(args.model, args.files, args.seconds, args.channels, args.threads, args.repeats)
    result["load_average_before"] = load_before
    result["load_average_after"] = os.getloadavg()
    n = args.threads
    print(f"{result['model']}: {args.files} files x {args.seconds:g} s, {args.channels} ch, {result['cores']} cores visible, "
          f"load average {load_before[0]:.2f} -> {result['load_average_after'][0]:.2f}")
    print(f"  1 thread : {result['frames_per_s_1_thread'] / 1e6:.2f} M frames/s "
          f"({result['frames_per_s_1_thread'] / result['sample_rate']:.0f}x real time)")
    print(f"  {n} threads: {result[f'frames_per_s_{n}_threads'] / 1e6:.2f} M frames/s "
          f"({result[f'frames_per_s_{n}_threads'] / result['sample_rate']:.0f}x real time)")
    print(f"  {n} threads / 1 thread: {result['ratio']:.2f}x (median of {args.repeats} paired runs; "
          f"each: {', '.join(f'{r:.2f}' for r in result['ratios'])})")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
