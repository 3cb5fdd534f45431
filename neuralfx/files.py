"""Reading the project's JSON documents, and writing files so that a failure never leaves a
half-written one behind."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def read_json(path: str | os.PathLike, what: str, inside: str = "") -> Any:
    """The JSON document at `path`, a `what` ("chain preset"): a missing file, a folder (named
    with the file `inside` it, where that exists), text that is not UTF-8 (an audio file given
    in its place) and invalid JSON raise ValueError naming the file and what was expected."""
    path = Path(path)
    if path.is_dir():
        hint = f": give {path / inside}" if inside and (path / inside).is_file() else ""
        raise ValueError(f"'{path}' is a folder, not a {what}{hint}")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{what} '{path}' does not exist") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"'{path}' is not a {what} (not UTF-8 text: {e.reason})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{what} '{path}' is not valid JSON: {e}") from None


def writable_file(path: str | os.PathLike, option: str = "-o", example: str = "model.nfx") -> Path:
    """`path`, checked before a long job writes it: a folder there, or a folder that cannot take
    a new file, raises ValueError now instead of after the work it would lose."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder: give a file name (e.g. {path / example})")
    _check_folder_takes_files(path.parent, f"{option} {path}")
    return path


def writable_model_file(path: str | os.PathLike, option: str = "-o") -> Path:
    """writable_file for a model file, whose name must not be an audio file's: `train -o take.wav`
    wrote the model's JSON under that name."""
    from pedalboard.io import get_supported_read_formats

    path = writable_file(path, option)
    if path.suffix.lower() in get_supported_read_formats():
        raise ValueError(f"{option} {path}: a model file is JSON, not audio: give it a model file's name, e.g. "
                         f"{path.with_suffix('.nfx')}")
    return path


def writable_folder(path: str | os.PathLike, option: str = "out_dir") -> Path:
    """`path` as a folder to write into (made if missing), checked before a long job fills it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} {path} is a file, not a folder: give a folder to write into")
    _check_folder_takes_files(path, f"{option} {path}")
    return path


def _check_folder_takes_files(folder: Path, what: str) -> None:
    # The nearest folder that exists (the rest is made when writing), tried with a probe file:
    # the only test that holds for every case (permissions, root, read-only mounts, /proc).
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(f"{existing} is a file")
        fd, probe = tempfile.mkstemp(prefix=".neuralfx-probe.", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ValueError(f"{what}: cannot write into {folder} ({e.strerror or e}): choose another place") from None


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside `path` to write to; moved onto `path` when the block completes,
    removed when it raises. `suffix` lets writers that infer a format from the name see it."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as e:  # it named the hidden temporary file, not the path asked for
        raise OSError(e.errno, f"cannot write '{path}' ({e.strerror}): choose another place") from None
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp creates files 0600; the finished file gets an ordinary file's permissions.
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
