"""Differentiable DSP blocks (functional core + thin modules with declared parameter ranges),
each with a C++ twin of the same name in cpp/include/neuralfx/dsp/. See docs/DSP.md."""

from .biquad import Biquad, biquad, rbj_coefficients
from .delay import Delay, delay
from .drywet import DryWet, dry_wet
from .eq import ParametricEQ
from .gain import Gain, gain
from .params import ParamBlock, ParamSpec
from .waveshaper import Waveshaper, waveshaper

__all__ = [
    "Biquad",
    "Delay",
    "DryWet",
    "Gain",
    "ParamBlock",
    "ParamSpec",
    "ParametricEQ",
    "Waveshaper",
    "biquad",
    "delay",
    "dry_wet",
    "gain",
    "rbj_coefficients",
    "waveshaper",
]
