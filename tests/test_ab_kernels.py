"""benchmarks/ab_kernels.py, the paired comparison of two bench binaries, runs end to end: one
paired result per model, as many rounds as asked. Speed itself is not asserted (a benchmark, not
a timed test)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "ab_kernels.py"
# `make test` passes the bench it built; outside make, the Makefile's build folder only.
BENCH = Path(os.environ.get("NEURALFX_BENCH", REPO / "build" / "cmake" / "neuralfx-bench"))
if os.environ.get("NEURALFX_BENCH") and not BENCH.exists():
    raise RuntimeError(f"NEURALFX_BENCH={BENCH} does not exist")
if not BENCH.exists():
    pytest.skip(f"no bench binary at {BENCH} (make cpp, or set NEURALFX_BENCH)", allow_module_level=True)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=REPO)


def test_one_paired_result_per_model() -> None:
    done = run(str(BENCH), str(BENCH), "--models", "lstm:8,gru:8", "--rounds", "2", "--seconds", "0.02")
    assert done.returncode == 0, done.stderr
    assert "2 paired rounds" in done.stdout
    for arch in ("lstm:8", "gru:8"):
        row = re.search(rf"^{re.escape(arch)}\s+([0-9.]+) M\s+([0-9.]+) M\s+([0-9.]+)x\s+([0-9.]+)-([0-9.]+)x$",
                        done.stdout, re.MULTILINE)
        assert row, done.stdout
        a, b, ratio, low, high = map(float, row.groups())
        assert a > 0 and b > 0 and low <= ratio <= high


def test_missing_binary_is_named() -> None:
    done = run(str(BENCH), "no/such/bench", "--rounds", "1")
    assert done.returncode != 0
    assert "no bench binary at no/such/bench" in done.stderr
