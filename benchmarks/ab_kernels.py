"""Which of two kernels is faster: two neuralfx-bench binaries on the same models, in paired rounds.

Each round runs both binaries once on the same model files (mono, block 64), the one that goes
first alternating, so a change in the machine's speed during the run hits both sides of a
round's ratio alike. On a shared or virtual machine single rates can move by 2x from one minute
to the next; the median of the rounds' ratios is the result. Prints, per
model, the median rates and the median, smallest and largest of the rounds' ratios (A / B).

    python3 benchmarks/ab_kernels.py A_BENCH B_BENCH --models lstm:32,wavenet:standard --rounds 9 --cpu 1
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from torch_baseline import BLOCK, previous_kernel, split_models


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", type=Path, help="the bench binary under test (A)")
    p.add_argument("b", type=Path, help="the bench binary to compare with (B)")
    p.add_argument("--models", default="lstm:16,lstm:32,gru:32,wavenet:standard", help="comma-separated architectures")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--seconds", type=float, default=0.25, help="audio per timed run")
    p.add_argument("--cpu", type=int, help="pin both benches to this core (inherited by the child processes)")
    args = p.parse_args()
    for binary in (args.a, args.b):
        if not binary.exists():
            raise SystemExit(f"no bench binary at {binary}: build one per commit (cmake --build BUILD_DIR)")
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    archs = split_models(args.models)
    # previous_kernel's names: "current" is A, "previous" is B.
    results = previous_kernel(args.a, args.b, archs, args.seconds, args.rounds)
    print(f"\nA = {args.a}\nB = {args.b}\nmono, block {BLOCK}, {args.rounds} paired rounds")
    print(f"{'model':20s} {'A samples/s':>12s} {'B samples/s':>12s} {'A/B median':>11s} {'range':>13s}")
    for arch, r in results.items():
        ratios = [x["current"] / x["previous"] for x in r["rounds"]]
        print(f"{arch:20s} {r['current'] / 1e6:10.2f} M {r['previous'] / 1e6:10.2f} M {r['ratio']:10.3f}x "
              f"{min(ratios):6.3f}-{max(ratios):.3f}x")
    missing = [arch for arch in archs if arch not in results]
    if missing:
        raise SystemExit(f"no paired result for {', '.join(missing)}: a bench printed no block-{BLOCK} row for it")


if __name__ == "__main__":
    main()
