"""neuralfx: differentiable DSP and neural audio effects, trained in PyTorch, run in a C++ kernel."""

__version__ = "0.1.0"

from .errors import ModelFileError  # noqa: E402
from .effects import NeuralEffect, load  # noqa: E402
from .chain import Chain, FileReport  # noqa: E402

__all__ = ["Chain", "FileReport", "ModelFileError", "NeuralEffect", "load", "__version__"]
