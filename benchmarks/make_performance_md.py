"""Writes docs/PERFORMANCE.md from one run of benchmarks/torch_baseline.py and
benchmarks/file_throughput.py.

    python3 benchmarks/make_performance_md.py [--bench build/cmake/neuralfx-bench]
    python3 benchmarks/make_performance_md.py --from-json benchmarks/results/latest.json
    python3 benchmarks/make_performance_md.py --page docs/OTHER.md --results R.json --machine-note "..."

Runs the torch baseline script (which runs the kernel bench in the same run) and the
file-throughput script (the pybind11 path on 1 thread vs several), keeps their raw results in
benchmarks/results/latest.json next to this script, and renders every number in the page from
that file: nothing in PERFORMANCE.md is typed by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "latest.json"
PAGE = REPO / "docs" / "PERFORMANCE.md"
SHARED_VM_NOTE = (
    "**A shared virtual machine** (KVM): its throughput swings by up to 2x over minutes, also while nothing "
    "else of ours runs, and other engineers' jobs may share it. Absolute numbers are therefore noisy (see the "
    "spread column); the ratios below pair runs made seconds apart and are the numbers to compare.")

# Targets of issue 5 (single thread, block 64, 48 kHz, mono): samples per second per model and
# the kernel / PyTorch CPU ratio on LSTM-32 at block 64.
TARGET_RATE = {"lstm:16": 18e6, "lstm:32": 8e6, "gru:32": 9e6, "wavenet:standard": 2.5e6}
TARGET_TORCH_RATIO = ("lstm:32", 50.0)
# The effective clock of the core the issue's targets were set on.
TARGET_CORE_GHZ = 3.66
# Architectures of the page's cost-by-size table: hidden sizes of the recurrent models as
# captures use them, and NAM's two WaveNet layouts.
SIZE_SWEEP = ("lstm:8,lstm:16,lstm:24,lstm:32,lstm:48,lstm:64,gru:8,gru:16,gru:24,gru:32,gru:48,gru:64,"
              "wavenet:lite,wavenet:standard")


def run(args: argparse.Namespace) -> dict:
    results = args.results
    results.parent.mkdir(parents=True, exist_ok=True)
    rel = lambda path: os.path.relpath(path, REPO)  # noqa: E731  (paths in the page read the same on any checkout)
    cmd = [sys.executable, "benchmarks/torch_baseline.py", "--bench", rel(args.bench),
           "--models", args.models, "--seconds", str(args.seconds), "--repeats", str(args.repeats),
           "--baseline-simd", "--json", rel(results)]
    if args.size_sweep:
        cmd += ["--size-sweep", args.size_sweep]
    if args.previous_bench:
        cmd += ["--previous-bench", rel(args.previous_bench), "--previous-label", args.previous_label]
    subprocess.run(cmd, check=True, cwd=REPO)
    data = json.loads(results.read_text())
    if args.file_threads > 1:
        files_json = results.with_name("file_throughput.json")
        files_cmd = [sys.executable, "benchmarks/file_throughput.py", "--threads", str(args.file_threads),
                     "--files", str(2 * args.file_threads), "--json", rel(files_json)]
        subprocess.run(files_cmd, check=True, cwd=REPO)
        data["file_throughput"] = json.loads(files_json.read_text())
        data["file_throughput"]["command"] = shlex.join(["python3", *files_cmd[1:]])
        files_json.unlink()
    return data


def mega(rate: float) -> str:
    """Millions with two decimals; below 0.1 M three significant digits (torch's 0.0244 M read
    "0.02 M", and a ratio computed from it came out 123x against the page's 99.5x)."""
    return f"{rate / 1e6:.2f} M" if rate >= 1e5 else f"{rate / 1e6:.3g} M"


def spread(row: dict) -> str:
    """A bench row's spread, (max - min) / median of its runs, as a percentage."""
    return f"{100 * (row['samples_per_s_max'] - row['samples_per_s_min']) / row['samples_per_s']:.0f}%"


def measuring_runs(data: dict) -> list[dict]:
    """The bench calls of a run that measured the clock and the multiply-add peak: the kernel
    table's and the cost-by-size sweep's."""
    return [run for run in (data["kernel"], data.get("size_sweep")) if run]


def run_clock(data: dict) -> float:
    """The page's one core clock: the highest reading of the run (GHz; 0 where none measured).
    Each bench call reads its own; the size sweep's 3.66 against the kernel table's 3.64 GHz gave
    one model two cycle counts on one page (a review)."""
    return max((run.get("core_ghz", 0.0) for run in measuring_runs(data)), default=0.0)


def run_peak(data: dict) -> float:
    """The page's one multiply-add peak: the highest reading of the run (/s; 0 where none): a
    ceiling derived from a lower reading than another call measured understates it."""
    return max((run["fma_peak"]["multiply_adds_per_s"] for run in measuring_runs(data) if "fma_peak" in run),
               default=0.0)


def when_read(data: dict, one_call: str) -> str:
    """When the page's clock and peak were read, as ", ..." after "best of 5" in the header
    (`one_call` for a run of the kernel table alone; "" says nothing)."""
    text = ("before and after the kernel table's and the cost-by-size runs, the highest" if data.get("size_sweep")
            else one_call)
    return f", {text}" if text else ""


def clock_text(ghz: float) -> str:
    return f"{ghz:.2f} GHz" if ghz > 0 else "not measured on this platform"


def cycles(ghz: float, rate: float) -> str:
    """Core cycles per sample at `rate` samples/s on the run's clock (run_clock)."""
    return f"{ghz * 1e9 / rate:.0f}" if ghz > 0 else "-"


def render(data: dict) -> str:
    k = data["kernel"]
    block = data["block"]
    ghz, peak = run_clock(data), run_peak(data)
    lines = [
        "# Performance",
        "",
        "Generated by `benchmarks/make_performance_md.py` from one run of `benchmarks/torch_baseline.py`",
        f"(raw results: `{data.get('results_file', 'benchmarks/results/latest.json')}`, {data.get('generated', 'date unknown')}). "
        "Do not edit by hand.",
        "",
        "## Machine and build",
        "",
        f"- CPU: {k['cpu']}, {data['cores']} cores visible; {data['platform']}",
        "- Core clock measured by the bench (a chain of dependent integer multiplies, best of 5"
        + when_read(data, "before and after its runs, the higher of the two" if "core_ghz_end" in k else "") + "): "
        f"{clock_text(ghz)}. cycles/sample = that clock / cpu samples/s (core cycles per sample of one channel): the number to compare with "
        "other machines and with the cycle budgets of the targets below.",
        *([f"- fp32 multiply-add rate measured by the bench ({k['fma_peak']['isa']} copy, 12 independent chains of "
           f"multiply-adds, best of 5{when_read(data, k['fma_peak'].get('measured', ''))}): {peak / 1e9:.1f} G/s"
           + (f", {peak / (ghz * 1e9):.1f} per cycle" if ghz > 0 else "")
           + ": the CPU's peak, which bounds every model below (see the section on it)."] if "fma_peak" in k else []),
        f"- {data.get('machine_note', SHARED_VM_NOTE)} "
        f"Load average (1, 5, 15 min) before: {', '.join(f'{v:.2f}' for v in data['load_average_before'])}; "
        f"after: {', '.join(f'{v:.2f}' for v in data['load_average_after'])}. "
        "The `cpu samples/s` column divides by the thread's CPU time instead "
        "of wall time, which removes most of the time other jobs held the core.",
        *([f"- Source: commit `{data['commit']}` (`git describe --always --dirty` as the run started; the "
           "kernel measured is the bench binary the command names)"] if "commit" in data else []),
        f"- Compiler: {k['compiler']}; flags: `{k['flags'].strip()}`",
        f"- Build target: {k['simd']}; hot loops ran: {k['hot_loops']} "
        f"({'picked at run time by CPU dispatch' if k['runtime_dispatch'] else 'fixed at compile time'})",
        f"- PyTorch {data['torch']} on CPU, `torch.set_num_threads({data['torch_threads']})`, Python {data['python']}",
        f"- Command: `{data.get('page_command', data['script_command'])}`, which ran `{data['script_command']}`; "
        f"kernel bench: `{k['command']}`",
        f"- Kernel: {k['warmup']} warm-up run(s), then the median of {k['repeats']} runs of {k['seconds']} s of "
        "noise each; spread = (max - min) / median. Models have random weights (`lstm:H`, `gru:H` = 1 layer, H "
        "hidden, mono input, input skip; `wavenet:standard` = Neural Amp Modeler's standard layout), built through "
        "the same loader as a model file.",
        "",
        "## Kernel throughput",
        "",
        "samples/s counts samples of every channel; RTF = seconds of audio per second of wall time at 48 kHz. "
        "silence/loud = time per block of silence right after loud input over time per block of that input "
        "(near 1: decaying state does not fall into slow denormal arithmetic).",
        "",
        "| model | channels | block | samples/s | spread | cpu samples/s | cycles/sample | RTF | silence/loud |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in k["results"]:
        lines.append(f"| {r['model']} | {r['channels']} | {r['block']} | {mega(r['samples_per_s'])} | {spread(r)} "
                     f"| {mega(r['cpu_samples_per_s'])} | {cycles(ghz, r['cpu_samples_per_s'])} "
                     f"| {r['rtf']:.0f} | {r['silence_ns_per_block'] / r['loud_ns_per_block']:.2f} |")

    lines += render_size_sweep(data.get("size_sweep"), ghz)
    lines += render_fma_peak(data)

    base = data.get("kernel_baseline_simd")
    if base:
        lines += ["", f"## Dispatched copy ({k['hot_loops']}) vs the portable baseline copy (mono, same run)", "",
                  f"The same binary with `NEURALFX_SIMD=baseline` runs the portable baseline copy of the hot loops ({base['hot_loops']}).", "",
                  "| model | block | dispatched samples/s | baseline samples/s | ratio (cpu time) |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for r in k["results"]:
            if r["channels"] != 1:
                continue
            b = next((x for x in base["results"] if x["model"] == r["model"] and x["channels"] == 1 and x["block"] == r["block"]), None)
            if b:
                lines.append(f"| {r['model']} | {r['block']} | {mega(r['samples_per_s'])} | {mega(b['samples_per_s'])} "
                             f"| {r['cpu_samples_per_s'] / b['cpu_samples_per_s']:.1f}x |")

    prev = data.get("previous_kernel")
    if prev:
        lines += ["", f"## This kernel vs the {prev['label']} kernel (mono, block {block}, same run, same model files)", ""]
        results = prev["results"].values()
        if all("rounds" in r for r in results):
            count = min(len(r["rounds"]) for r in results)
            lines += [f"The two benches ran in alternation, {count} rounds of one run each (which one went first "
                      "alternating); the table gives the median rates and the median of the rounds' ratios, with "
                      "the smallest and largest ratio of a round.", "",
                      "| model | this kernel samples/s | previous samples/s | median of the rounds' ratios | rounds' range |",
                      "| --- | ---: | ---: | ---: | ---: |"]
            for arch, r in prev["results"].items():
                each = [x["current"] / x["previous"] for x in r["rounds"]]
                lines.append(f"| {arch} | {mega(r['current'])} | {mega(r['previous'])} | {r['ratio']:.2f}x "
                             f"| {min(each):.2f}-{max(each):.2f}x |")
        else:  # results from before the benches alternated: one run each
            lines += ["| model | this kernel samples/s | previous samples/s | speed-up |", "| --- | ---: | ---: | ---: |"]
            for arch, r in prev["results"].items():
                lines.append(f"| {arch} | {mega(r['current'])} | {mega(r['previous'])} | {r['ratio']:.1f}x |")

    lines += ["", f"## Kernel vs PyTorch CPU (mono, kernel at block {block})", "",
              "PyTorch runs each model's torch twin (`neuralfx.models`): over the whole sequence in "
              f"one call, and in blocks of {block} samples carrying the state, as a real-time host would call it. "
              f"Torch and one kernel bench run (block {block}, mono) alternate, repeat by repeat, so each ratio compares "
              "runs made seconds apart under the same load; the table gives medians of the rates and of the paired "
              "ratios, by wall time and in parentheses by each side's thread CPU time.", "",
              f"| model | kernel samples/s | torch whole sequence | torch blocks of {block} | kernel / torch whole | kernel / torch blocks |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for arch, ratio in data["ratios"].items():
        t = data["torch_results"][arch]
        kr = t["kernel_block_64"]
        blocks = f"blocks_of_{block}"
        lines.append(f"| {arch} | {mega(kr['samples_per_s'])} | {mega(t['whole_sequence']['samples_per_s'])} "
                     f"| {mega(t[blocks]['samples_per_s'])} "
                     f"| {ratio['vs_whole_sequence']:.1f}x ({ratio['vs_whole_sequence_cpu']:.1f}x) "
                     f"| {ratio['vs_' + blocks]:.1f}x ({ratio['vs_' + blocks + '_cpu']:.1f}x) |")

    lines += ["", "## Targets of issue 5 (single thread, block 64, mono)", "",
              f"The issue states its targets for a core at an effective {TARGET_CORE_GHZ} GHz. The cycle budget here is "
              "the target rate at this machine's measured clock; the budget at "
              f"{TARGET_CORE_GHZ} GHz is the same target in cycles of the issue's core: measured cycles within it "
              "would meet the target on a core that ran this code in as many cycles at that clock. Only the "
              "measured rates decide the last column.", "",
              "| target | measured by wall time | by CPU time | cycle budget here / measured cycles "
              f"| cycle budget at {TARGET_CORE_GHZ} GHz | met (wall / CPU) |",
              "| --- | ---: | ---: | ---: | ---: | --- |"]
    yes = lambda ok: "yes" if ok else "no"  # noqa: E731
    for arch, target in TARGET_RATE.items():
        r = next((x for x in k["results"] if x["model"] == arch and x["channels"] == 1 and x["block"] == block), None)
        if r:
            lines.append(f"| {arch} >= {mega(target)} samples/s | {mega(r['samples_per_s'])} | {mega(r['cpu_samples_per_s'])} "
                         f"| {cycles(ghz, target)} / {cycles(ghz, r['cpu_samples_per_s'])} "
                         f"| {TARGET_CORE_GHZ * 1e9 / target:.0f} "
                         f"| {yes(r['samples_per_s'] >= target)} / {yes(r['cpu_samples_per_s'] >= target)} |")
    arch, want = TARGET_TORCH_RATIO
    if arch in data["ratios"]:
        for mode, label in ((f"blocks_of_{block}", f"torch in blocks of {block}"), ("whole_sequence", "torch whole sequence")):
            wall, cpu = data["ratios"][arch][f"vs_{mode}"], data["ratios"][arch][f"vs_{mode}_cpu"]
            lines.append(f"| {arch} >= {want:.0f}x PyTorch CPU ({label}) | {wall:.1f}x | {cpu:.1f}x | - | - "
                         f"| {yes(wall >= want)} / {yes(cpu >= want)} |")
        lines += render_ratio_bound(data)
    lines += render_file_throughput(data.get("file_throughput"))
    lines.append("")
    return "\n".join(lines)


def render_size_sweep(sweep: dict | None, ghz: float) -> list[str]:
    """How cost grows with the model's size, mono and stereo; empty when the run has no sweep."""
    if not sweep:
        return []
    lines = ["", f"## Cost by model size (block {sweep['results'][0]['block']})", "",
             (f"`{sweep['command']}`, called {sweep['rounds']} times, each call one run of {sweep['seconds']:g} s "
              "per model and channel count in turn: a row is the median of its rounds, spread = (largest - "
              "smallest) / median, so a slow phase of the machine lowers one round of a few models rather than "
              "every run of one. " if sweep.get("rounds") else
              f"`{sweep['command']}`: the median of {sweep['repeats']} runs of {sweep['seconds']:g} s each. ")
             + "samples/s counts samples of every channel, so stereo / mono is 1.00 where a second channel costs "
             "what the first does and above 1 where the two channels share one loop (Block::process_pair).", "",
             "| model | mono samples/s | spread | cycles/sample | RTF | stereo samples/s | stereo / mono |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for mono in (r for r in sweep["results"] if r["channels"] == 1):
        stereo = next((r for r in sweep["results"] if r["model"] == mono["model"] and r["channels"] == 2), None)
        lines.append(f"| {mono['model']} | {mega(mono['samples_per_s'])} | {spread(mono)} "
                     f"| {cycles(ghz, mono['cpu_samples_per_s'])} | {mono['rtf']:.0f} "
                     + (f"| {mega(stereo['samples_per_s'])} | {stereo['samples_per_s'] / mono['samples_per_s']:.2f} |"
                        if stereo else "| - | - |"))
    return lines


def fma_rows(data: dict) -> list[dict]:
    """Mono rows at the page's block size that carry a multiply-add count: the size sweep's where
    the run has one, else the kernel table's."""
    sweep = data.get("size_sweep") or {}
    rows = sweep.get("results") or [r for r in data["kernel"]["results"] if r["block"] == data["block"]]
    return [r for r in rows if r["channels"] == 1 and r.get("multiply_adds_per_sample")]


def render_fma_peak(data: dict) -> list[str]:
    """Each model's distance to the CPU's measured multiply-add peak; empty for runs made before
    the bench measured it."""
    k = data["kernel"]
    rows = fma_rows(data)
    if "fma_peak" not in k or not rows:
        return []
    peak, ghz = run_peak(data), run_clock(data)
    lines = ["", f"## Distance to the multiply-add peak (mono, block {data['block']})", "",
             "multiply-adds/sample counts one per entry of the model's weight matrices and convolution taps "
             "(`multiply_adds_per_sample`; activations and biases not counted): work every fp32 implementation "
             f"of the model does. At the measured peak ({peak / 1e9:.1f} G/s) it gives the fastest any "
             "implementation could run on one core, and its cycles per sample; `of peak` is the measured CPU-time "
             f"rate (of the {'cost-by-size run' if data.get('size_sweep') else 'kernel table'} above) over that "
             "limit. The rest of each sample's time goes to activations, the cell update and moving data.", "",
             "| model | multiply-adds/sample | limit samples/s | limit cycles/sample | measured cycles/sample | of peak |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        madds = r["multiply_adds_per_sample"]
        limit = peak / madds
        lines.append(f"| {r['model']} | {madds:,} | {mega(limit)} | {cycles(ghz, limit)} "
                     f"| {cycles(ghz, r['cpu_samples_per_s'])} | {100 * r['cpu_samples_per_s'] / limit:.0f}% |")
    return lines


def render_ratio_bound(data: dict) -> list[str]:
    """What the multiply-add peak allows for the kernel / PyTorch target; empty where the run did
    not measure the peak or the model."""
    k = data["kernel"]
    arch, want = TARGET_TORCH_RATIO
    row = next((r for r in fma_rows(data) if r["model"] == arch), None)
    if "fma_peak" not in k or row is None or arch not in data["ratios"]:
        return []
    madds = row["multiply_adds_per_sample"]
    peak = run_peak(data)
    limit = peak / madds
    torch_rate = data["torch_results"][arch][f"blocks_of_{data['block']}"]["samples_per_s"]
    needed = want * torch_rate
    verdict = ("above that limit: no fp32 implementation can meet it on this core"
               if needed > limit else "within that limit")
    return ["", f"The {want:.0f}x target needs {want:.0f} x {mega(torch_rate)} = {mega(needed)} samples/s against torch in "
            f"blocks of {data['block']} here. {arch} does {madds:,} multiply-adds per sample, so at this core's measured "
            f"peak ({peak / 1e9:.1f} G/s) no implementation runs it faster than "
            f"{mega(limit)} samples/s, {limit / torch_rate:.1f}x torch: the target is {verdict}."]


def render_file_throughput(f: dict | None) -> list[str]:
    """The section on benchmarks/file_throughput.py's run, empty when the run has none."""
    if not f:
        return []
    n = f["threads"]
    multi = f[f"frames_per_s_{n}_threads"]
    return ["", "## File processing through the Python module (pybind11, GIL released)", "",
            f"`{f['command']}`: {f['files']} files of {f['seconds_per_file']:g} s, {f['channels']} channels, "
            f"through `{f['model']}` with `Chain.process_file` (pedalboard.io reads and writes, the kernel processes "
            f"with the GIL released); all files on one thread, then split over {n} threads with one effect each, "
            f"alternating, median of {f['repeats']} paired runs; {f['cores']} cores visible, load average "
            f"{f['load_average_before'][0]:.2f} before, {f['load_average_after'][0]:.2f} after.", "",
            f"| 1 thread frames/s | {n} threads frames/s | {n} threads / 1 thread |", "| ---: | ---: | ---: |",
            f"| {mega(f['frames_per_s_1_thread'])} | {mega(multi)} | {f['ratio']:.2f}x |"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bench", type=Path, default=REPO / "build" / "cmake" / "neuralfx-bench",
                   help="the bench binary (default: where `make cpp` builds it)")
    p.add_argument("--models", default="lstm:16,lstm:32,gru:32,wavenet:standard")
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--previous-bench", type=Path, help="passed on to torch_baseline.py")
    p.add_argument("--previous-label", default="previous")
    p.add_argument("--size-sweep", default=SIZE_SWEEP,
                   help="architectures for the cost-by-size table (passed on to torch_baseline.py; empty: none)")
    p.add_argument("--file-threads", type=int, default=2,
                   help="threads for benchmarks/file_throughput.py (0: skip that run)")
    p.add_argument("--from-json", type=Path, help="render from saved results instead of running")
    p.add_argument("--page", type=Path, default=PAGE, help="the page to write")
    p.add_argument("--results", type=Path, default=RESULTS, help="where the raw results go")
    p.add_argument("--machine-note", default=SHARED_VM_NOTE, help="what the page says about the machine's load")
    args = p.parse_args()
    if args.from_json:
        data = json.loads(args.from_json.read_text())
    else:
        args.results = args.results.resolve()
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True)
        data = run(args)
        data["commit"] = commit.stdout.strip() if commit.returncode == 0 else "unknown (not a git checkout)"
        data["generated"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        data["page_command"] = shlex.join(["python3", "benchmarks/make_performance_md.py", *sys.argv[1:]])
        data["results_file"] = os.path.relpath(args.results, REPO)
        data["machine_note"] = args.machine_note
        args.results.write_text(json.dumps(data, indent=2))
    args.page.parent.mkdir(parents=True, exist_ok=True)
    args.page.write_text(render(data))
    print(f"wrote {args.page}")


if __name__ == "__main__":
    main()
