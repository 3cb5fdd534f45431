"""Config values of the network blocks, checked as the C++ reader checks them
(cpp/src/block_reader.cpp): a JSON 8.5 or true where an integer belongs is refused, not rounded,
so that a file one reader loads, the other loads the same."""

from __future__ import annotations

import numbers
from typing import Any, Sequence


def check_int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return int(value)


def check_int_list(name: str, values: Sequence[int], low: int, high: int) -> list[int]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values or any(
            isinstance(v, bool) or not isinstance(v, numbers.Integral) or not low <= v <= high for v in values):
        raise ValueError(f"{name} must be a non-empty list of integers in [{low}, {high}], got {values!r}")
    return [int(v) for v in values]


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value
