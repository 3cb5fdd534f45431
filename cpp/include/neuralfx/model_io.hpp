#pragma once
// Reading model files (*.nfx). The schema is owned by neuralfx/modelfile.py; this is its
// C++ reader. Every failure is a ModelFileError whose message names the bad field.

#include <memory>
#include <stdexcept>
#include <string>

#include "model.hpp"

namespace neuralfx {

// The versions this build reads (neuralfx/modelfile.py: OLDEST_VERSION, FORMAT_VERSION). Version 2
// added the dynamics blocks' smoothing and rms_attack_ms, which version-1 readers would ignore.
constexpr int kOldestModelFormatVersion = 1;
constexpr int kModelFormatVersion = 2;
constexpr const char* kModelFormatName = "neuralfx-model";

// The sample rates a model, a block configured with one, and the plugin's host may have
// (neuralfx/models/config_checks.py: SAMPLE_RATE_RANGE).
constexpr long kMinSampleRate = 1000;
constexpr long kMaxSampleRate = 768000;
inline std::string sample_rate_range_text() {
    return "[" + std::to_string(kMinSampleRate) + ", " + std::to_string(kMaxSampleRate) + "] Hz";
}

// Limits that keep a small file from costing the host a crash or gigabytes (both readers hold
// them: neuralfx/modelfile.py, neuralfx/models/config_checks.py). JSON nesting (the most lists
// and objects open at once): writing back a 100,000-deep metadata value overflowed the stack.
// Knobs: prepare() keeps a row of samples per knob. A convolutional block keeps
// sum((kernel - 1) x dilation) frames of history over its layers, its receptive field less one:
// a 7.6 kB WaveNet file with 10 dilations of 8192 and kernels of 64 took 949 MB.
constexpr int kMaxJsonDepth = 64;
constexpr int kMaxKnobs = 64;
constexpr int kMaxConvHistory = 65536;
constexpr int kMaxConvLayers = 64;
// The Delay blocks' lines together, in samples (config_checks.py: MAX_DELAY_LINE_SAMPLES): the
// line of one 10 s Delay at 768 kHz (delay.hpp). Each sample is a double, twice (the line and
// save_state()'s copy), per channel: forty such Delays in a 9 kB file took 4.9 GB of a host.
constexpr long long kMaxDelayLineSamples = 7680002;
// A recurrent block's sizes (config_checks.py: MAX_HIDDEN_SIZE, MAX_RECURRENT_LAYERS).
constexpr int kMaxHiddenSize = 1024;
constexpr int kMaxRecurrentLayers = 8;

class ModelFileError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

std::unique_ptr<Model> load_model_from_string(const std::string& json_text);
std::unique_ptr<Model> load_model_from_file(const std::string& path);

}  // namespace neuralfx
