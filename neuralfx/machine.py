"""What the scripts that record measurements (training/build_presets.py,
benchmarks/training_speed.py) say about the CPU they ran on."""

from __future__ import annotations

import platform


def processor_name() -> str:
    """The CPU's model name as the OS reports it ("AMD EPYC 9R14 ..."), or the architecture
    ("x86_64") where it does not say more."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()
