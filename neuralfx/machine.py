"""What the scripts that record measurements (training/build_presets.py, the benchmarks)
say about the CPU they ran on."""

from __future__ import annotations

import os
import platform


def processor_name() -> str:
    """The CPU's model name as the OS reports it ("AMD EPYC 9R14 ..."), or the architecture
    ("x86_64") where it does not say more."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one: under
    `taskset -c 0` that is 1 of the machine's 2), for the scripts' "cores visible"."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows: no affinity call
        return os.cpu_count() or 1
