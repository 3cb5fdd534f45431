"""Exceptions shared by the Python side and the kernel binding."""

from __future__ import annotations


class ModelFileError(ValueError):
    """A model file is missing, malformed, truncated or of an unsupported version.

    The message names the offending field (e.g. ``blocks[0].config.hidden_size``)."""
