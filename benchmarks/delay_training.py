"""Delay forward + backward on long batches: how the chunked recursion scales.

Not a unit test: a measurement script (docs/DSP.md quotes its output).

    python3 benchmarks/delay_training.py [--seconds 60] [--batch 8]

Cases: the delay time as a weight (chunks as long as the delay), and bound to a knob that
sweeps between 5 and 50 ms (chunks as long as the shortest delay they contain). One torch
thread. Wall time on a shared machine also counts other jobs; compare the cases within one run.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from neuralfx.dsp import Delay

delay_module = sys.modules["neuralfx.dsp.delay"]


def run(block: Delay, x: torch.Tensor, knobs: torch.Tensor | None) -> tuple[float, float, int]:
    chunks = []
    plan = delay_module.chunk_bounds

    def counting(k_min):
        bounds = plan(k_min)
        chunks.append(len(bounds))
        return bounds

    delay_module.chunk_bounds = counting
    try:
        start = time.perf_counter()
        y, _ = block(x, knobs)
        loss = y.pow(2).mean()
        forward = time.perf_counter() - start
        start = time.perf_counter()
        loss.backward()
        backward = time.perf_counter() - start
    finally:
        delay_module.chunk_bounds = plan
    return forward, backward, chunks[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    # One thread, as benchmarks/torch_baseline.py: on a loaded shared machine more threads
    # mostly wait for each other (measured here: 2 threads 3-5x slower than 1).
    torch.set_num_threads(1)
    rate, samples = 48000, int(args.seconds * 48000)
    torch.manual_seed(0)
    x = 0.1 * torch.randn(args.batch, samples)
    fixed = Delay(rate, 2000.0, delay_ms=300.0, feedback=0.7, mix=0.5)
    swept = Delay(rate, 100.0, feedback=0.7, mix=0.5, knobs={"delay_ms": "time"})
    swept.knob_index = torch.tensor([0])
    # A slow sweep 5 .. 50 ms (normalized on the 1 .. 100 ms range), one period per second.
    t = torch.arange(samples) / rate
    knobs = ((4.0 + 45.0 * 0.5 * (1 - torch.cos(2 * torch.pi * t))) / 99.0).view(1, 1, -1).expand(args.batch, 1, -1)
    for name, block, k in (("delay_ms weight 300 ms", fixed, None), ("delay_ms knob 5..50 ms", swept, knobs)):
        forward, backward, chunks = run(block, x, k)
        print(f"{name}: {args.batch} x {args.seconds:g} s, {chunks} chunks, forward {forward:.2f} s, backward {backward:.2f} s")


if __name__ == "__main__":
    main()
