"""benchmarks/ab_kernels.py, the paired comparison of two bench binaries, runs end to end: one
paired result per model, as many rounds as asked. Speed itself is not asserted (a benchmark, not
a timed test)."""

from __future__ import annotations

import json
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


def test_bench_json_names_any_file_and_block_sizes_longer_than_the_audio_run_whole(tmp_path: Path) -> None:
    """A tab in a model's file name was dropped from the JSON and a Latin-1 byte written raw
    (json.load refused the file); a block longer than --seconds of audio ran the audio's length
    alone under that block's label (4096 and 64 both took one 48-sample block). A review."""
    model = tmp_path / "caf\udce9\tamp.nfx"  # bytes b"caf\xe9\tamp.nfx" on disk
    model.write_bytes((REPO / "presets" / "crunch_amp.nfx").read_bytes())
    out = tmp_path / "bench.json"
    done = subprocess.run([str(BENCH), str(model), "--seconds", "0.001", "--block-sizes", "64,4096", "--warmup", "0",
                           "--repeats", "1", "--json", str(out)], capture_output=True, text=True,
                          errors="replace")  # the table prints the name's bytes as they are
    assert done.returncode == 0, done.stderr
    rows = json.loads(out.read_text(encoding="utf-8"))["results"]
    assert [r["model"] for r in rows] == ["caf\ufffd\tamp.nfx"] * 2
    by_block = {r["block"]: r["loud_ns_per_block"] for r in rows}
    assert by_block[4096] > 8 * by_block[64]  # 4096 samples against 64, not one short block each
    done = subprocess.run([str(BENCH), "lstm:8", "--json", "--seconds", "0.1"], capture_output=True, text=True)
    assert done.returncode == 2 and "missing value after --json" in done.stderr
