"""Config values of the network blocks, checked as the C++ reader checks them
(cpp/src/block_reader.cpp): a JSON 8.5 or true where an integer belongs, or "0.5" where a number
does, is refused, not converted, so that a file one reader loads, the other loads the same.
Python callers may also pass numpy scalars and arrays."""

from __future__ import annotations

import math
import numbers
import unicodedata
from typing import Any, Optional, Sequence

import numpy as np

# The sample rates a model file, and a block configured with one, may hold (as in C++:
# cpp/src/model_io.cpp).
SAMPLE_RATE_RANGE = (1000.0, 768000.0)
# What a small file may make the kernel allocate (cpp/include/neuralfx/model_io.hpp, which says why).
MAX_JSON_DEPTH = 64
MAX_KNOBS = 64
MAX_CONV_HISTORY = 65536
MAX_CONV_LAYERS = 64
MAX_HIDDEN_SIZE = 1024
MAX_RECURRENT_LAYERS = 8
# The Delay blocks' lines together, in samples: the line of one 10 s Delay at 768 kHz (delay.line_length).
MAX_DELAY_LINE_SAMPLES = 7_680_002


def model_rate_problem(rate: float) -> Optional[str]:
    """Why a model cannot be at `rate` Hz (None when it can), as the kernel's reader says it: the
    rate converters (the kernel's, the plugin's) take whole Hz only, so a model at 44100.5 Hz
    loaded and then ran at no other rate."""
    if not SAMPLE_RATE_RANGE[0] <= rate <= SAMPLE_RATE_RANGE[1]:
        return f"outside [{SAMPLE_RATE_RANGE[0]:g}, {SAMPLE_RATE_RANGE[1]:g}] Hz"
    if rate != math.floor(rate):
        return f"{rate:.12g} Hz is not a whole number of Hz: give the rate of the audio the model was trained on"
    return None


def knob_name_problem(name: str) -> Optional[str]:
    """Why `name` cannot name a knob (None when it can), as the kernel's reader says it: a name
    holding '=' could not be set with `--knob NAME=VALUE`, and control characters (an escape
    sequence) reached the terminal through `neuralfx info` and the host's parameter list."""
    if "=" in name:
        return "holds '=', which `--knob NAME=VALUE` could not set: rename the knob"
    for c in name:
        if unicodedata.category(c) == "Cc":
            return f"holds the control character U+{ord(c):04X}: rename the knob"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_int(name: str, value: Any, low: int, high: int) -> int:
    if not _is_int(value) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return int(value)


def _as_list(values: Any) -> Optional[list]:
    """values as a list when they are a sequence (a numpy array included), else None: a bare
    string is not a list of its letters."""
    items = values.tolist() if isinstance(values, np.ndarray) else values
    return None if isinstance(items, (str, bytes)) or not isinstance(items, Sequence) else list(items)


def check_int_list(name: str, values: Sequence[int], low: int, high: int) -> list[int]:
    items = _as_list(values)
    if not items or any(not _is_int(v) or not low <= v <= high for v in items):
        raise ValueError(f"{name} must be a non-empty list of integers in [{low}, {high}], got {values!r}")
    return [int(v) for v in items]


def check_float(name: str, value: Any, low: float, high: float) -> float:
    if (not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_))
            or not math.isfinite(value) or not low <= value <= high):
        raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}")
    return float(value)


def check_block_rate(block: str, value: Any) -> float:
    """A DSP block's configured sample rate, in SAMPLE_RATE_RANGE: a string "48000" was read by
    Python and refused by C++ (cpp/src/factories/dsp_params.cpp)."""
    return check_float(f"{block}.sample_rate (Hz)", value, *SAMPLE_RATE_RANGE)


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return bool(value)


def check_names(name: str, values: Sequence[str]) -> list[str]:
    """A list of knob names (a bare string was read as its letters)."""
    items = _as_list(values)
    if items is None or not all(isinstance(v, str) for v in items):
        raise ValueError(f"{name} must be a list of knob names, got {values!r}")
    return items


def check_conv_extent(kernel_sizes: Sequence[int], dilations: Sequence[Sequence[int]]) -> None:
    """MAX_CONV_LAYERS and MAX_CONV_HISTORY over a convolutional block's layers, as the C++
    reader checks them (cpp/src/factories/conv.cpp)."""
    layers = sum(len(ds) for ds in dilations)
    if layers > MAX_CONV_LAYERS:
        raise ValueError(f"dilations: {layers} layers, above the limit of {MAX_CONV_LAYERS}")
    history = sum((k - 1) * d for k, ds in zip(kernel_sizes, dilations) for d in ds)
    if history > MAX_CONV_HISTORY:
        raise ValueError(f"dilations: the layers keep {history} samples of history (the sum of (kernel - 1) x "
                         f"dilation), above the limit of {MAX_CONV_HISTORY}: use fewer or smaller dilations")
