"""The performance pages are rendered from saved benchmark results, never typed: every saved
result file renders, and the numbers the page shows are the ones in the file."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RESULT_FILES = sorted((REPO / "benchmarks" / "results").glob("*.json"))


def load_benchmark_module(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_page_module():
    return load_benchmark_module("make_performance_md")


# The committed pages and the result files they are rendered from.
PAGES = {"latest.json": "PERFORMANCE.md", "xeon.json": "PERFORMANCE-xeon.md", "zen3.json": "PERFORMANCE-zen3.md"}


def test_saved_results_exist() -> None:
    names = {p.name for p in RESULT_FILES}
    assert set(PAGES) <= names, names


@pytest.mark.parametrize("result, page", PAGES.items())
def test_committed_pages_are_what_the_script_renders(result: str, page: str) -> None:
    """A hand edit of a page (or a results file changed without re-rendering) fails here."""
    data = json.loads((REPO / "benchmarks" / "results" / result).read_text())
    assert load_page_module().render(data) == (REPO / "docs" / page).read_text(), (
        f"docs/{page} differs from its results: python3 benchmarks/make_performance_md.py "
        f"--from-json benchmarks/results/{result} --page docs/{page}")


def test_rates_are_shown_in_millions_with_two_decimals() -> None:
    mega = load_page_module().mega
    assert (mega(1.5e6), mega(15_321_000.0), mega(440_000.0)) == ("1.50 M", "15.32 M", "0.44 M")
    assert (mega(24_400.0), mega(99_950.0)) == ("0.0244 M", "0.0999 M")  # not "0.02 M"


@pytest.mark.parametrize("path", RESULT_FILES, ids=lambda p: p.name)
def test_page_shows_the_saved_numbers(path: Path) -> None:
    page_module = load_page_module()
    data = json.loads(path.read_text())
    page = page_module.render(data)
    kernel = data["kernel"]
    # Every kernel row, with its rate as the page formats it.
    for r in kernel["results"]:
        row = f"| {r['model']} | {r['channels']} | {r['block']} | {page_module.mega(r['samples_per_s'])} |"
        assert row in page, row
    for arch, ratio in data["ratios"].items():
        assert f"| {ratio['vs_blocks_of_64']:.1f}x (" in page, arch
    previous = data.get("previous_kernel")
    if previous:
        for arch, r in previous["results"].items():
            # Alternating rounds (newer results) show two decimals and the rounds' range.
            shown = f"{r['ratio']:.2f}x" if "rounds" in r else f"{r['ratio']:.1f}x"
            assert f"| {arch} | {page_module.mega(r['current'])} | {page_module.mega(r['previous'])} | {shown} |" in page
    # The cost-by-size table, where the run has one: every model's mono rate.
    for r in (data.get("size_sweep") or {}).get("results", []):
        if r["channels"] == 1:
            assert f"| {r['model']} | {page_module.mega(r['samples_per_s'])} |" in page, r["model"]
    # Each target row names the target in cycles of the reference core.
    for arch, target in page_module.TARGET_RATE.items():
        if any(r["model"] == arch for r in kernel["results"]):
            assert f"| {page_module.TARGET_CORE_GHZ * 1e9 / target:.0f} |" in page, arch


def test_previous_kernel_rounds_render_their_median_and_range() -> None:
    page_module = load_page_module()
    data = json.loads((REPO / "benchmarks" / "results" / "latest.json").read_text())
    rounds = [{"current": 2.0e6, "previous": 1.0e6}, {"current": 1.1e6, "previous": 1.0e6}, {"current": 1.5e6, "previous": 1.0e6}]
    data["previous_kernel"] = {"label": "test", "results": {
        "lstm:32": {"current": 1.5e6, "previous": 1.0e6, "ratio": 1.5, "rounds": rounds}}}
    page = page_module.render(data)
    assert "| lstm:32 | 1.50 M | 1.00 M | 1.50x | 1.10-2.00x |" in page
    assert "3 rounds of one run each" in page


def test_size_sweep_renders_mono_and_stereo_side_by_side() -> None:
    page_module = load_page_module()
    data = json.loads((REPO / "benchmarks" / "results" / "latest.json").read_text())
    row = {"block": 64, "samples_per_s_min": 0.9e6, "samples_per_s_max": 1.1e6, "rtf": 20.0,
           "loud_ns_per_block": 1.0, "silence_ns_per_block": 1.0}
    data["size_sweep"] = {"command": "neuralfx-bench lstm:8 --block-sizes 64 --channels 1,2", "core_ghz": 3.0,
                          "seconds": 1.0, "repeats": 3, "results": [
                              {**row, "model": "lstm:8", "channels": 1, "samples_per_s": 1.0e6, "cpu_samples_per_s": 1.0e6},
                              {**row, "model": "lstm:8", "channels": 2, "samples_per_s": 1.6e6, "cpu_samples_per_s": 1.6e6}]}
    data["kernel"]["core_ghz"] = 2.0
    page = page_module.render(data)
    assert "## Cost by model size (block 64)" in page
    # 3 GHz / 1 M samples/s = 3000 cycles; stereo moves 1.6x the samples of mono.
    assert "| lstm:8 | 1.00 M | 20% | 3000 | 20 | 1.60 M | 1.60 |" in page
    # One clock for the page, the run's highest reading: the sweep's rows and the kernel table's
    # were counted on their own calls' clocks (one model read 470 and 473 cycles on one page).
    assert "3.00 GHz. cycles/sample" in page
    data["kernel"]["core_ghz"] = 4.0
    page = page_module.render(data)
    assert "| lstm:8 | 1.00 M | 20% | 4000 | 20 | 1.60 M | 1.60 |" in page and "4.00 GHz. cycles/sample" in page


def with_fma_peak(data: dict, peak: float) -> dict:
    """A saved run as a bench that measured the multiply-add peak would have written it."""
    data["kernel"]["fma_peak"] = {"multiply_adds_per_s": peak, "isa": "avx512"}
    data["size_sweep"]["fma_peak"] = {"multiply_adds_per_s": peak / 2, "isa": "avx512"}  # the page takes the higher
    for r in data["size_sweep"]["results"]:
        r["multiply_adds_per_sample"] = 4256 if r["model"] == "lstm:32" else 1000
    return data


@pytest.mark.parametrize("peak, verdict", [(58.8e9, "above that limit"), (600e9, "within that limit")])
def test_multiply_add_peak_bounds_each_model_and_the_torch_ratio_target(peak: float, verdict: str) -> None:
    page_module = load_page_module()
    data = with_fma_peak(json.loads((REPO / "benchmarks" / "results" / "latest.json").read_text()), peak)
    page = page_module.render(data)
    lstm32 = next(r for r in data["size_sweep"]["results"] if r["model"] == "lstm:32" and r["channels"] == 1)
    limit = peak / 4256
    ghz = page_module.run_clock(data)
    assert (f"| lstm:32 | 4,256 | {page_module.mega(limit)} | {page_module.cycles(ghz, limit)} "
            f"| {page_module.cycles(ghz, lstm32['cpu_samples_per_s'])} "
            f"| {100 * lstm32['cpu_samples_per_s'] / limit:.0f}% |") in page
    torch_rate = data["torch_results"]["lstm:32"]["blocks_of_64"]["samples_per_s"]
    assert f"{page_module.mega(limit)} samples/s, {limit / torch_rate:.1f}x torch: the target is {verdict}" in page


def load_torch_baseline_module():
    spec = importlib.util.spec_from_file_location("torch_baseline", REPO / "benchmarks" / "torch_baseline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_size_sweep_takes_each_row_median_over_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three bench calls, the first slow for lstm:8 mono: the row keeps the middle rate (not the
    first call's), and its spread shows the slow round; the clock is the highest any call measured."""
    baseline = load_torch_baseline_module()
    rates = iter([(0.4e6, 2.1e6, 2.9), (1.0e6, 1.9e6, 3.1), (1.1e6, 2.0e6, 3.0)])

    def fake_bench(bench, archs, block_sizes, channels, seconds, warmup, repeats, env=None, quiet=False):
        assert repeats == 1
        mono, stereo, ghz = next(rates)
        row = {"model": "lstm:8", "block": 64, "rtf": 1.0, "loud_ns_per_block": 1.0, "silence_ns_per_block": 1.0}
        return {"command": "neuralfx-bench lstm:8 --repeats 1", "core_ghz": ghz, "seconds": seconds, "results": [
            {**row, "channels": 1, "samples_per_s": mono, "cpu_samples_per_s": mono},
            {**row, "channels": 2, "samples_per_s": stereo, "cpu_samples_per_s": stereo}]}

    monkeypatch.setattr(baseline, "run_bench", fake_bench)
    sweep = baseline.size_sweep(Path("neuralfx-bench"), ["lstm:8"], warmup=1)
    mono, stereo = sweep["results"]
    assert (mono["samples_per_s"], mono["samples_per_s_min"], mono["samples_per_s_max"]) == (1.0e6, 0.4e6, 1.1e6)
    assert (stereo["samples_per_s"], stereo["samples_per_s_min"], stereo["samples_per_s_max"]) == (2.0e6, 1.9e6, 2.1e6)
    assert sweep["core_ghz"] == 3.1 and sweep["rounds"] == 3
    page = load_page_module().render_size_sweep(sweep, sweep["core_ghz"])
    assert any("called 3 times" in line for line in page)
    # 3.1 GHz / 1 M samples/s = 3100 cycles; spread (1.1 - 0.4) / 1.0 = 70%.
    assert "| lstm:8 | 1.00 M | 70% | 3100 | 1 | 2.00 M | 2.00 |" in page


# Training-speed runs (benchmarks/training_speed.py --json) and the page that shows each table.
TRAINING_PAGES = {"h200.json": "TRAINING-SPEED.md"}


def test_training_speed_page_shows_each_saved_table() -> None:
    saved = {p.name: p for p in (REPO / "benchmarks" / "results" / "training").glob("*.json")}
    assert set(saved) == set(TRAINING_PAGES), saved
    table = load_benchmark_module("training_speed").table
    for name, page in TRAINING_PAGES.items():
        text = (REPO / "docs" / page).read_text()
        expected = table(json.loads(saved[name].read_text()))
        assert expected in text, (f"docs/{page} does not show the table of {name}: "
                                  f"python3 benchmarks/training_speed.py --render benchmarks/results/training/{name}")
