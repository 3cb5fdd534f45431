"""How scores read in progress lines, `neuralfx info` and training/RESULTS.md (no torch import,
so `info` stays quick)."""


def esr_text(value: float) -> str:
    """An ESR for people: five decimals, or two significant digits below 1e-4 (a DSP model of its
    own device reaches 1e-8, which five decimals print as 0)."""
    return f"{value:.5f}" if value >= 1e-4 or value == 0.0 else f"{value:.1e}"
