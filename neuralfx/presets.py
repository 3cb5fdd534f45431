"""Where shipped models (*.nfx) and chain presets (*.chain.json) live: inside the installed
package (neuralfx/presets, put there by the wheel build) or, in a source checkout, presets/."""

from __future__ import annotations

import os
from pathlib import Path

from .modelfile import SUFFIX

CHAIN_SUFFIX = ".chain.json"
DEFAULT_CHAIN = "default"


def presets_dir() -> Path:
    installed = Path(__file__).parent / "presets"
    if installed.is_dir():
        return installed
    checkout = Path(__file__).resolve().parent.parent / "presets"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError("neuralfx presets folder not found: reinstall neuralfx (pip install .)")


def list_models() -> list[str]:
    return sorted(p.name[: -len(SUFFIX)] for p in presets_dir().glob(f"*{SUFFIX}"))


def list_chains() -> list[str]:
    return sorted(p.name[: -len(CHAIN_SUFFIX)] for p in presets_dir().glob(f"*{CHAIN_SUFFIX}"))


def _resolve(name_or_path: str | os.PathLike, suffix: str, what: str, shipped_names: list[str]) -> Path:
    """An existing file as given, or the shipped preset of that bare name (suffix optional). A
    folder of that name (`neuralfx capture ... crunch_amp` makes one) does not hide the preset."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = presets_dir() / f"{path.name.removesuffix(suffix)}{suffix}"
    if path.parent == Path(".") and shipped.exists():
        return shipped
    if path.exists():
        return path  # a folder or a device: the loader says what it is
    other_kind, other_suffix = {SUFFIX: ("chain preset", CHAIN_SUFFIX), CHAIN_SUFFIX: ("model", SUFFIX)}[suffix]
    if path.parent == Path(".") and (presets_dir() / f"{path.name}{other_suffix}").exists():
        hint = f"; '{path.name}' is a shipped {other_kind}, not a {what}"
    elif shipped.exists() and path.parent.name == "presets":  # "presets/crunch_amp.nfx" away from a checkout's root
        hint = f"; a shipped {what} is named alone: '{path.name.removesuffix(suffix)}'"
    else:
        hint = ""
    raise FileNotFoundError(f"{what} '{name_or_path}' is neither a file nor a shipped one "
                            f"({', '.join(shipped_names)}){hint}")


def resolve_model(name_or_path: str | os.PathLike) -> Path:
    """A path to an existing model file, or the shipped model of that name."""
    return _resolve(name_or_path, SUFFIX, "model", list_models())


def resolve_chain(name_or_path: str | os.PathLike) -> Path:
    """A path to an existing chain preset, or the shipped chain preset of that name."""
    return _resolve(name_or_path, CHAIN_SUFFIX, "chain preset", list_chains())
