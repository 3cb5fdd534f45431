#pragma once
// Reading DSP block parameters and their knob bindings from a model file, the same way for
// every DSP block (twin of neuralfx/dsp/params.py). Errors name the JSON field and the range.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../block_reader.hpp"
#include "neuralfx/dsp/biquad.hpp"
#include "neuralfx/dsp/dynamics.hpp"
#include "neuralfx/dsp/params.hpp"

namespace neuralfx::dsp {

struct ParamSpec {
    std::string name;  // the weight name (without prefix) and the key in config "knobs"
    double minimum;
    double maximum;
    std::string unit;
};

// config: the object holding an optional "knobs" binding map; field: its JSON path for errors
// (".config" or ".config.bands[2]"); prefix: the weight-name prefix ("" or "bands.2.").
// Returns one Param per spec, in order. A bound knob must be declared with the parameter's range.
std::vector<Param> read_params(const BlockReader& r, const nlohmann::json& config, const std::string& field,
                               const std::string& prefix, const std::vector<ParamSpec>& specs);

// config["sample_rate"], checked as the Python side does.
double read_sample_rate(const BlockReader& r);

// A band object {"mode": ..., "knobs": {...}} at `field`, weights under `prefix`.
BiquadFilter read_biquad(const BlockReader& r, const nlohmann::json& band, const std::string& field,
                         const std::string& prefix, double sample_rate);
// A ParametricEQ band or a Waveshaper's pre/post filter: read_biquad, after refusing an entry that
// is not one of neuralfx/dsp/biquad.py's BAND_ENTRIES (a misspelt "freq" was dropped).
BiquadFilter read_band(const BlockReader& r, const nlohmann::json& band, const std::string& field,
                       const std::string& prefix, double sample_rate);

// The Biquad parameter ranges at this rate (biquad.py: frequency_spec, GAIN_DB, Q).
std::vector<ParamSpec> biquad_specs(double sample_rate);

// config "detector" (peak | rms, `fallback` when absent), "rms_ms" and "rms_attack_ms" (dynamics.py:
// RMS_MS_RANGE, RMS_ATTACK_MS_RANGE).
LevelDetector read_level_detector(const BlockReader& r, const std::string& fallback, double sample_rate);

// config "smoothing" (gain | level; gain when absent, as files written before it existed).
Smoothing read_smoothing(const BlockReader& r);

// The attack_ms / release_ms specs shared by Compressor and NoiseGate (dynamics.py: ATTACK_MS, RELEASE_MS).
ParamSpec attack_ms_spec();
ParamSpec release_ms_spec();

}  // namespace neuralfx::dsp
