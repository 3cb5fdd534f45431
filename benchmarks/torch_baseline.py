"""Kernel vs PyTorch CPU on the same model shapes, measured in one run.

Not a unit test: a measurement script. For each architecture (``lstm:H[:LAYERS]``,
``gru:H[:LAYERS]``, ``wavenet:standard`` or ``wavenet:lite``) it times the torch twin of the C++
block (neuralfx.models) in PyTorch on one CPU thread, over the whole sequence in one call and in
blocks of 64 samples carrying the state (what a real-time host would do), then runs the
neuralfx-bench binary on the same architectures in the same process run and prints kernel /
torch throughput ratios.

    python3 benchmarks/torch_baseline.py [--bench build/cmake/neuralfx-bench] [--json out.json]

Throughput is samples per second, median of the repeats. On a shared machine wall time also
counts other jobs' time slices; compare ratios within one run, not absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
# The installed package (make install) first; this checkout only where none is installed. Put
# first, the checkout shadowed the installed package, and a fresh clone has no compiled _core.
sys.path.append(str(REPO))
from neuralfx.machine import usable_cores  # noqa: E402
from neuralfx.model import Model  # noqa: E402
from neuralfx.models import GRU, LSTM, WaveNet  # noqa: E402  (the torch twins of cpp/include/neuralfx/layers/)
from neuralfx.models.wavenet import PRESETS as WAVENET_LAYOUTS  # noqa: E402

RATE = 48000
BLOCK = 64


def make_model(spec: str) -> torch.nn.Module:
    """The torch twin of a bench architecture, random weights (throughput does not depend on them)."""
    torch.manual_seed(0)
    kind, *rest = spec.split(":")
    if kind in ("lstm", "gru") and len(rest) in (1, 2):
        cell = LSTM if kind == "lstm" else GRU
        return cell(int(rest[0]), int(rest[1]) if len(rest) == 2 else 1, skip=True).eval()
    if kind == "wavenet" and len(rest) == 1 and rest[0] in WAVENET_LAYOUTS:
        return WaveNet.preset(rest[0]).eval()
    raise SystemExit(f"bad architecture {spec!r}: expected lstm:H[:LAYERS], gru:H[:LAYERS] or wavenet:standard|lite")


def split_models(text: str) -> list[str]:
    """Architectures from a comma-separated list, where the bench's own forms hold commas too:
    "wavenet:4,2,lstm:32" is ["wavenet:4,2", "lstm:32"] (a part that is a number continues the one
    before; it was run as "wavenet:4" and "2")."""
    models: list[str] = []
    for part in text.split(","):
        if part.isdigit() and models:
            models[-1] += "," + part
        else:
            models.append(part)
    return models


def bench_output(cmd: list[str], env: dict | None = None) -> str:
    """The bench's stdout; its own error message where it fails (a CalledProcessError traceback
    left it out: stderr was captured and dropped)."""
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        reason = done.stderr.strip() or done.stdout.strip()
        raise SystemExit(f"{shlex.join(cmd)} failed (exit {done.returncode}): {reason}")
    return done.stdout


def timed(samples: int, run) -> tuple[float, float]:
    """samples/s of one call of run(), by wall time and by this thread's CPU time."""
    t0, c0 = time.perf_counter(), time.thread_time()
    run()
    return samples / (time.perf_counter() - t0), samples / (time.thread_time() - c0)


def paired(arch: str, args: argparse.Namespace) -> dict:
    """PyTorch (whole sequence, blocks of 64 with state) and the kernel (block 64, mono, one
    bench run) in alternation, repeat by repeat: each kernel / torch ratio compares runs made
    seconds apart under the same load from other jobs, and the ratios' median is reported."""
    model = make_model(arch)
    n = int(args.torch_seconds * RATE)
    x = (0.3 * torch.randn(1, n)).float()

    def whole() -> None:
        model(x)

    def blocks() -> None:
        state = None
        for start in range(0, n, BLOCK):
            _, state = model(x[:, start : start + BLOCK], state=state)

    rounds = []
    with torch.inference_mode():
        for _ in range(args.warmup):
            whole()
            blocks()
        for _ in range(args.repeats):
            k = run_bench(args.bench, [arch], str(BLOCK), "1", args.seconds, 1, 1, quiet=True)["results"][0]
            w, wc = timed(n, whole)
            b, bc = timed(n, blocks)
            rounds.append({"kernel": k["samples_per_s"], "kernel_cpu": k["cpu_samples_per_s"], "whole": w, "whole_cpu": wc,
                           "blocks": b, "blocks_cpu": bc})
    med = lambda key: statistics.median(r[key] for r in rounds)  # noqa: E731
    ratio = lambda k, t: statistics.median(r[k] / r[t] for r in rounds)  # noqa: E731
    return {
        "kernel_block_64": {"samples_per_s": med("kernel"), "cpu_samples_per_s": med("kernel_cpu")},
        "whole_sequence": {"samples_per_s": med("whole"), "cpu_samples_per_s": med("whole_cpu")},
        f"blocks_of_{BLOCK}": {"samples_per_s": med("blocks"), "cpu_samples_per_s": med("blocks_cpu")},
        "ratios": {"vs_whole_sequence": ratio("kernel", "whole"), "vs_whole_sequence_cpu": ratio("kernel_cpu", "whole_cpu"),
                   f"vs_blocks_of_{BLOCK}": ratio("kernel", "blocks"), f"vs_blocks_of_{BLOCK}_cpu": ratio("kernel_cpu", "blocks_cpu")},
        "rounds": rounds,
    }


def run_bench(bench: Path, archs: list[str], block_sizes: str, channels: str, seconds: float, warmup: int, repeats: int,
              env: dict | None = None, quiet: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        cmd = [str(bench), *archs, "--block-sizes", block_sizes, "--channels", channels,
               "--seconds", str(seconds), "--warmup", str(warmup), "--repeats", str(repeats), "--json", str(out)]
        printed = bench_output(cmd, env)
        if not quiet:
            print(printed, end="")
        result = json.loads(out.read_text())
    result["command"] = " ".join([Path(cmd[0]).name, *cmd[1:-2]])  # without the temporary --json path
    return result


def size_sweep(bench: Path, archs: list[str], warmup: int, rounds: int = 3) -> dict:
    """Cost by model size at block BLOCK, mono and stereo: `rounds` bench calls over all the models,
    each one run of 1 s per model and channel count, so a slow phase of a shared machine lowers
    one round's runs of a few models instead of every run of one model (one call with --repeats 3
    once read LSTM-16 at 15.5 M samples/s, 18.6 M in a rerun). A row holds the median of its
    rounds and their smallest and largest rate; the clock is the highest the calls measured."""
    calls = [run_bench(bench, archs, str(BLOCK), "1,2", 1.0, warmup, 1) for _ in range(rounds)]
    merged = dict(calls[0])  # machine, build and command: the same for every call
    clocks = [c["core_ghz"] for c in calls if c.get("core_ghz")]
    if clocks:
        merged["core_ghz"] = max(clocks)
    rows = []
    for first in calls[0]["results"]:
        same = [next(r for r in c["results"] if (r["model"], r["channels"]) == (first["model"], first["channels"]))
                for c in calls]
        row = dict(first)
        for key in ("samples_per_s", "cpu_samples_per_s", "rtf", "loud_ns_per_block", "silence_ns_per_block"):
            row[key] = statistics.median(r[key] for r in same)
        row["samples_per_s_min"] = min(r["samples_per_s"] for r in same)
        row["samples_per_s_max"] = max(r["samples_per_s"] for r in same)
        rows.append(row)
    merged["results"] = rows
    merged["rounds"] = rounds
    return merged


def previous_kernel(current: Path, previous: Path, archs: list[str], seconds: float, rounds: int) -> dict:
    """Both bench binaries on the same model files (the previous one may not know lstm:H), mono,
    block 64, in alternation: each of `rounds` rounds runs both (which one goes first
    alternates), so a change in the machine's speed hits both sides of a round's ratio alike.
    Reports the median rates and the median of the rounds' ratios."""
    import re

    def rates(binary: Path, files: list[str], common: list[str]) -> dict[str, float]:
        printed = bench_output([str(binary), *files, *common])
        print(printed, end="")
        found = {}
        for path in files:
            name = Path(path).name
            # "name ch block samples/s ...": benches before the channel column printed no "ch".
            m = re.search(rf"^{re.escape(name)}\s+(?:1\s+)?{BLOCK}\s+([0-9.]+)", printed, re.MULTILINE)
            if m:
                found[name] = float(m.group(1))
        return found

    by_arch: dict[str, list[dict]] = {arch: [] for arch in archs}
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for arch in archs:
            path = Path(tmp) / (arch.replace(":", "_") + ".nfx")
            Model([make_model(arch)], RATE, []).save(path, {"name": arch})
            files.append(str(path))
        common = ["--block-sizes", str(BLOCK), "--channels", "1", "--seconds", str(seconds), "--repeats", "1"]
        for r in range(rounds):
            sides = [("current", current), ("previous", previous)]
            measured = {side: rates(binary, files, common) for side, binary in (sides if r % 2 == 0 else sides[::-1])}
            for arch, path in zip(archs, files):
                name = Path(path).name
                if name in measured["current"] and name in measured["previous"]:
                    by_arch[arch].append({side: measured[side][name] for side in ("current", "previous")})
    out = {}
    for arch, rs in by_arch.items():
        if rs:
            out[arch] = {"current": statistics.median(x["current"] for x in rs),
                         "previous": statistics.median(x["previous"] for x in rs),
                         "ratio": statistics.median(x["current"] / x["previous"] for x in rs), "rounds": rs}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bench", type=Path, default=REPO / "build" / "cmake" / "neuralfx-bench",
                   help="the bench binary (default: where `make cpp` builds it)")
    p.add_argument("--models", default="lstm:16,lstm:32",
                   help="comma-separated architectures with a torch twin: lstm:H[:LAYERS], gru:H[:LAYERS], "
                        "wavenet:standard|lite")
    p.add_argument("--block-sizes", default="1,16,64,256,1024", help="kernel block sizes")
    p.add_argument("--channels", default="1,2")
    p.add_argument("--seconds", type=float, default=2.0, help="audio per timed kernel run")
    p.add_argument("--torch-seconds", type=float, default=1.0, help="audio per timed torch run")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--baseline-simd", action="store_true",
                   help="also run the bench with NEURALFX_SIMD=baseline (the portable copy of the hot loops)")
    p.add_argument("--previous-bench", type=Path,
                   help="a neuralfx-bench built from an earlier commit: compared on the same model files at block 64")
    p.add_argument("--previous-label", default="previous", help="what --previous-bench was built from (for the report)")
    p.add_argument("--size-sweep", default="",
                   help="comma-separated architectures to run through the kernel only, at block 64, mono and "
                        "stereo (3 runs of 1 s each): how cost grows with the model's size")
    p.add_argument("--json", type=Path, help="write everything measured here")
    args = p.parse_args()
    if not args.bench.exists():
        raise SystemExit(f"no bench binary at {args.bench}: build it (make cpp) or pass --bench")

    torch.set_num_threads(1)
    archs = split_models(args.models)
    for arch in archs:  # before any run: tcn:8 was refused after the whole kernel table had run
        make_model(arch)
    load_before = os.getloadavg()
    table = (args.block_sizes, args.channels, args.seconds, args.warmup, args.repeats)
    kernel = run_bench(args.bench, archs, *table)
    baseline = None
    if args.baseline_simd:
        print("-- the same with NEURALFX_SIMD=baseline:")
        baseline = run_bench(args.bench, archs, *table, env={**os.environ, "NEURALFX_SIMD": "baseline"})
    previous = None
    if args.previous_bench:
        print(f"-- this kernel and the {args.previous_label} one on the same model files:")
        previous = previous_kernel(args.bench, args.previous_bench, archs, args.seconds, args.repeats)
    sweep = None
    if args.size_sweep:
        print(f"-- cost by model size (block {BLOCK}, mono and stereo):")
        sweep = size_sweep(args.bench, split_models(args.size_sweep), args.warmup)
    torch_results = {}
    for arch in archs:
        torch_results[arch] = paired(arch, args)
    load_after = os.getloadavg()

    print(f"\ntorch {torch.__version__}, 1 thread; kernel mono at block {BLOCK}, measured in alternation with torch;")
    print("median samples/s and median of the paired ratios, by wall time (by CPU time)")
    print(f"{'model':<12} {'kernel':>12} {'torch whole':>12} {'torch b64':>12} {'x whole':>16} {'x b64':>16}")
    ratios = {}
    for arch in archs:
        t = torch_results[arch]
        r = ratios[arch] = t["ratios"]
        print(f"{arch:<12} {t['kernel_block_64']['samples_per_s']:12.0f} {t['whole_sequence']['samples_per_s']:12.0f} "
              f"{t[f'blocks_of_{BLOCK}']['samples_per_s']:12.0f} "
              f"{r['vs_whole_sequence']:7.1f}x ({r['vs_whole_sequence_cpu']:5.1f}x) "
              f"{r[f'vs_blocks_of_{BLOCK}']:7.1f}x ({r[f'vs_blocks_of_{BLOCK}_cpu']:5.1f}x)")

    if args.json:
        args.json.write_text(json.dumps({
            "script_command": shlex.join(["python3", "benchmarks/torch_baseline.py", *sys.argv[1:]]),
            "cores": usable_cores(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "block": BLOCK,
            "kernel": kernel,
            "kernel_baseline_simd": baseline,
            "previous_kernel": {"label": args.previous_label, "results": previous} if previous else None,
            "size_sweep": sweep,
            "torch_results": torch_results,
            "ratios": ratios,
        }, indent=2))


if __name__ == "__main__":
    main()
