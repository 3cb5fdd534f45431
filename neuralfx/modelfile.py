"""The one model file format (``*.nfx``), versions 1 and 2. Its C++ reader is cpp/src/model_io.cpp.

A model file is UTF-8 JSON::

    {
      "format": "neuralfx-model",
      "version": 1,
      "sample_rate": 48000,
      "knobs": [{"name": "gain", "min": 0, "max": 10, "default": 5, "unit": ""}],
      "blocks": [
        {"type": "LSTM",
         "config": {"hidden_size": 16, "num_layers": 1, "skip": true, "conditioning": ["gain"]},
         "weights": {"lstm.weight_ih_l0": {"shape": [64, 2], "data": [...]}, ...}}
      ],
      "metadata": {"trained_on": "...", "validation_esr": 0.0041, "created": "..."}
    }

Weights are float32 values written as the shortest decimal of the equal float64, which parses
back to the same float32 bit pattern in Python and C++. Never pickle: a model file is data.

Version 2 added the Compressor's and NoiseGate's ``smoothing`` and ``rms_attack_ms``. Readers of
version 1 ignore config keys they do not know, so they would run such a block with another
sound; a file is therefore written as version 2 only when a block needs it (a block's
``format_version()``), and as version 1 otherwise, which older readers still load.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelFileError
from .files import atomic_path
from .knobs import Knob
from .models.config_checks import MAX_JSON_DEPTH, MAX_KNOBS, knob_name_problem, model_rate_problem

FORMAT_NAME = "neuralfx-model"
FORMAT_VERSION = 2  # the newest version this build reads and writes
OLDEST_VERSION = 1
SUFFIX = ".nfx"


@dataclass
class BlockRecord:
    """One block of a model as stored: its type name, plain-JSON config and named weights."""

    type: str
    config: dict[str, Any]
    weights: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class ModelFile:
    sample_rate: float
    blocks: list[BlockRecord]
    knobs: list[Knob] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    # The oldest version whose readers run every block as written (Model.to_modelfile sets it).
    version: int = OLDEST_VERSION

    # ---- writing ----
    def to_json(self) -> str:
        doc = {
            "format": FORMAT_NAME,
            "version": self.version,
            "sample_rate": self.sample_rate,
            "knobs": [
                {"name": k.name, "min": k.min, "max": k.max, "default": k.default, "unit": k.unit} for k in self.knobs
            ],
            "blocks": [
                {
                    "type": b.type,
                    "config": b.config,
                    "weights": {name: _tensor_to_json(name, w) for name, w in b.weights.items()},
                }
                for b in self.blocks
            ],
            # Text, not a model's structure: "caf\\udce9 amp" from `fit --trained-on` made a file
            # that the kernel's reader refused.
            "metadata": _as_unicode(self.metadata),
        }
        text = json.dumps(doc, separators=(",", ":"), allow_nan=False)
        # Validate what we write with the same reader users get: a bad file is never produced.
        from_json(text)
        return text

    def save(self, path: str | os.PathLike) -> Path:
        """Writes atomically: a crash mid-write never leaves a half-written model file."""
        path = Path(path)
        write_text_atomic(path, self.to_json())
        return path


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _tensor_to_json(name: str, value: Any) -> dict[str, Any]:
    arr = np.asarray(value, dtype=np.float32)
    if not np.all(np.isfinite(arr)):
        raise ModelFileError(f"weight '{name}' holds NaN or Inf: the model diverged; it cannot be exported")
    return {"shape": list(arr.shape), "data": arr.ravel().tolist()}


# ---- reading ----
def load(path: str | os.PathLike) -> ModelFile:
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"model file '{path}' does not exist")
    if path.is_dir():
        raise ModelFileError(f"'{path}' is a folder, not a model file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ModelFileError(f"'{path}': not a model file (not UTF-8 text: {e.reason})") from None
    try:
        return from_json(text)
    except ModelFileError as e:
        raise ModelFileError(f"'{path}': {e}") from None


def _refuse_constant(name: str) -> None:
    raise ModelFileError(f"not a model file (invalid JSON: {name} is not a JSON value)")


def _refuse_unrepresentable(doc: Any, where: str) -> None:
    """What the kernel's reader refuses and json reads: a number beyond float64 (1e400, read as
    inf), and text with a lone UTF-16 surrogate ("\\udce9", which no UTF-8 holds). Blocks'
    weights are left to _read_tensor, which refuses anything beyond float32 (and a walk over
    millions of values)."""
    if isinstance(doc, float) and not math.isfinite(doc) or type(doc) is int and abs(doc) > _FLOAT64_MAX:
        raise ModelFileError(f"{where}: a value cannot be represented (a number beyond the float64 range)")
    if isinstance(doc, str) and _lone_surrogates(doc):
        code = ord(_lone_surrogates(doc)[0])
        raise ModelFileError(f"{where}: text with a lone surrogate (\\u{code:04x}), which is not Unicode: the "
                             "kernel's reader refuses it")
    if isinstance(doc, dict):
        for key, value in doc.items():
            inside = f"{where}.{key}" if where else key
            _refuse_unrepresentable(key, f"{inside} (the name)")
            if where.startswith("blocks[") and where.count(".") == 0 and key == "weights":
                continue
            _refuse_unrepresentable(value, inside)
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            _refuse_unrepresentable(value, f"{where}[{i}]")


def _lone_surrogates(text: str) -> str:
    """The surrogate code points of text ("" for text that is Unicode, as nearly all is)."""
    if text.isascii():
        return ""
    return "".join(c for c in text if "\ud800" <= c <= "\udfff")


def _as_unicode(value: Any) -> Any:
    """value with every lone surrogate in its text replaced by U+FFFD: a command-line argument or
    file name in another encoding than UTF-8 reaches Python as "\\udce9" (surrogateescape)."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace") if _lone_surrogates(value) else value
    if isinstance(value, dict):
        return {_as_unicode(k): _as_unicode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_unicode(v) for v in value]
    return value


def from_json(text: str) -> ModelFile:
    deep = ModelFileError(f"not a model file: JSON nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        # As the kernel's reader (nlohmann/json): a byte-order mark is skipped, and NaN or Infinity,
        # which JSON lacks, are refused.
        doc = json.loads(text.removeprefix("\ufeff"), parse_constant=_refuse_constant)
    except json.JSONDecodeError as e:
        raise ModelFileError(f"not a model file (invalid JSON, perhaps truncated): {e}") from None
    except RecursionError:  # Python's parser gives up near 1000 levels
        raise deep from None
    if _depth(text) > MAX_JSON_DEPTH:
        raise deep
    _refuse_unrepresentable(doc, "")
    if not isinstance(doc, dict):
        raise ModelFileError("(top level): expected a JSON object")
    if doc.get("format") != FORMAT_NAME:
        raise ModelFileError(f'format: missing or not "{FORMAT_NAME}": this is not a neuralfx model file')
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError("version: missing or not an integer")
    if not OLDEST_VERSION <= version <= FORMAT_VERSION:
        raise ModelFileError(
            f"version: file is version {version}, this build reads versions {OLDEST_VERSION} to {FORMAT_VERSION}: "
            "update neuralfx or re-export the model"
        )
    sample_rate = _number(doc, "sample_rate", "(top level)")
    rate_problem = model_rate_problem(sample_rate)
    if rate_problem:
        raise ModelFileError(f"sample_rate: {rate_problem}")
    knobs = _read_knobs(doc.get("knobs", []))
    blocks_doc = doc.get("blocks")
    if not isinstance(blocks_doc, list):
        raise ModelFileError("blocks: missing or not a list")
    if not blocks_doc:
        raise ModelFileError("blocks: empty: a model needs at least one block")
    blocks = [_read_block(b, i) for i, b in enumerate(blocks_doc)]
    metadata = doc.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ModelFileError("metadata: expected an object")
    return ModelFile(sample_rate=sample_rate, blocks=blocks, knobs=knobs, metadata=metadata, version=version)


# The largest finite float32: the kernel stores weights and knob ranges in float32.
_FLOAT32_MAX = float(np.finfo(np.float32).max)
# The largest size of a weight dimension: the C++ reader reads sizes as int.
_INT_MAX = 2**31 - 1
_FLOAT64_MAX = float(np.finfo(np.float64).max)


def _number(obj: dict, key: str, where: str) -> float:
    if key not in obj:
        raise ModelFileError(f"{where}.{key}: missing")
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ModelFileError(f"{where}.{key}: expected a finite number")
    return float(v)


# Unrolled ("normal* (special normal*)*"): the form with an alternation inside the repeat kept a
# backtracking frame per character and took 4.8 GB for one 40 MB string.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _depth(text: str) -> int:
    """The most lists and objects open at once in valid JSON text, as the C++ reader counts
    them, from the brackets outside strings (a walk of the parsed document visited every weight
    and doubled the load time of a 16.7 MB model)."""
    deepest = level = 0
    for bracket in _NOT_BRACKET.sub("", _JSON_STRING.sub('""', text)):
        level += 1 if bracket in "[{" else -1
        deepest = max(deepest, level)
    return deepest


def _read_knobs(doc: Any) -> list[Knob]:
    if not isinstance(doc, list):
        raise ModelFileError("knobs: expected a list")
    if len(doc) > MAX_KNOBS:
        raise ModelFileError(f"knobs: {len(doc)} knobs, above the limit of {MAX_KNOBS}")
    knobs: list[Knob] = []
    for i, k in enumerate(doc):
        where = f"knobs[{i}]"
        if not isinstance(k, dict):
            raise ModelFileError(f"{where}: expected an object")
        name = k.get("name")
        if not isinstance(name, str) or not name:
            raise ModelFileError(f"{where}.name: missing or not a non-empty string")
        name_problem = knob_name_problem(name)
        if name_problem:
            raise ModelFileError(f"{where}.name: {name_problem}")
        if any(other.name == name for other in knobs):
            raise ModelFileError(f"{where}.name: '{name}' is declared twice")
        lo, hi, default = _number(k, "min", where), _number(k, "max", where), _number(k, "default", where)
        for key, v in (("min", lo), ("max", hi), ("default", default)):
            if abs(v) > _FLOAT32_MAX:
                raise ModelFileError(f"{where}.{key}: outside the float32 range")
        if not hi > lo:
            raise ModelFileError(f"{where}.max: must be greater than min")
        if hi - lo > _FLOAT32_MAX:
            raise ModelFileError(f"{where}.max: max - min exceeds the float32 range")
        if not lo <= default <= hi:
            raise ModelFileError(f"{where}.default: outside [min, max]")
        unit = k.get("unit", "")
        if not isinstance(unit, str):
            raise ModelFileError(f"{where}.unit: expected a string")
        knobs.append(Knob(name=name, min=lo, max=hi, default=default, unit=unit))
    return knobs


def _read_block(doc: Any, index: int) -> BlockRecord:
    where = f"blocks[{index}]"
    if not isinstance(doc, dict):
        raise ModelFileError(f"{where}: expected an object")
    if not isinstance(doc.get("type"), str):
        raise ModelFileError(f"{where}.type: missing or not a string")
    if not isinstance(doc.get("config"), dict):
        raise ModelFileError(f"{where}.config: missing or not an object")
    weights_doc = doc.get("weights", {})
    if not isinstance(weights_doc, dict):
        raise ModelFileError(f"{where}.weights: not an object")
    weights = {name: _read_tensor(w, f"{where}.weights.{name}") for name, w in weights_doc.items()}
    return BlockRecord(type=doc["type"], config=doc["config"], weights=weights)


def _read_tensor(doc: Any, where: str) -> np.ndarray:
    if not isinstance(doc, dict):
        raise ModelFileError(f'{where}: expected {{"shape": [...], "data": [...]}}')
    shape, data = doc.get("shape"), doc.get("data")
    # Sizes up to the C++ reader's int (10**30 by 0 made numpy's reshape fail unnamed); type(n) is
    # int, as true is an int too.
    if not isinstance(shape, list) or not all(type(n) is int and 0 <= n <= _INT_MAX for n in shape):
        raise ModelFileError(f"{where}.shape: missing or not a list of sizes from 0 to {_INT_MAX}")
    if not isinstance(data, list):
        raise ModelFileError(f"{where}.data: missing or not a list")
    count = math.prod(shape)
    if len(data) != count:
        raise ModelFileError(f"{where}.data: holds {len(data)} values, shape needs {count}")
    # Numbers only, as the kernel's reader takes them: numpy turned true, [1] and "-3" into
    # numbers. (By type in one pass: 3.2M values of an LSTM-512 x 2 cost 0.42 s checked one by one.)
    if not set(map(type, data)) <= {int, float}:
        raise ModelFileError(f"{where}.data: holds a value that is not a number")
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelFileError(f"{where}.data: holds a value that is not a number") from None
    except OverflowError:  # an integer of hundreds of digits
        raise ModelFileError(f"{where}.data: holds NaN, Inf or a value outside the float32 range") from None
    if not np.all(np.abs(arr) <= _FLOAT32_MAX):  # also false for NaN
        raise ModelFileError(f"{where}.data: holds NaN, Inf or a value outside the float32 range")
    return arr.astype(np.float32).reshape(shape)
