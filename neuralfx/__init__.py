"""neuralfx: differentiable DSP and neural audio effects, trained in PyTorch, run in a C++ kernel."""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The public names load on first use (PEP 562): importing the package for the `neuralfx`
# command then costs no torch import (~1.4 s), and the command's own handler sees a Ctrl-C
# during it instead of Python printing a traceback from the import.
_PUBLIC = {"Chain": ".chain", "FileReport": ".chain", "ModelFileError": ".errors", "NeuralEffect": ".effects",
           "load": ".effects"}

if TYPE_CHECKING:
    from .chain import Chain, FileReport
    from .effects import NeuralEffect, load
    from .errors import ModelFileError

__all__ = ["Chain", "FileReport", "ModelFileError", "NeuralEffect", "load", "__version__"]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name], __name__), name)
    elif name != "__main__" and name in {m.name for m in pkgutil.iter_modules(__path__)}:
        # a submodule, as `neuralfx._core` was once the public names had imported it (not
        # __main__, the command, which hasattr(neuralfx, "__main__") would have run)
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'neuralfx' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
