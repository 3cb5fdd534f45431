"""Differentiable DSP blocks (functional core + thin modules with declared parameter ranges),
each with a C++ twin of the same name in cpp/include/neuralfx/dsp/. See docs/DSP.md."""

from .biquad import Biquad, biquad, rbj_coefficients
from .compressor import Compressor, compressor
from .delay import Delay, delay
from .drywet import DryWet, dry_wet
from .eq import ParametricEQ
from .gain import Gain, gain
from .noise_gate import NoiseGate, noise_gate
from .params import ParamBlock, ParamSpec
from .waveshaper import Waveshaper, waveshaper

__all__ = [
    "Biquad",
    "Delay",
    "DryWet",
    "Compressor",
    "Gain",
    "NoiseGate",
    "ParamBlock",
    "ParamSpec",
    "ParametricEQ",
    "Waveshaper",
    "biquad",
    "delay",
    "dry_wet",
    "compressor",
    "gain",
    "noise_gate",
    "rbj_coefficients",
    "waveshaper",
]
