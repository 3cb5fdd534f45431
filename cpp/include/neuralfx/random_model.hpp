#pragma once
// Model files with random weights, as JSON text in the model-file format: the C++ tests and
// the bench build models from an architecture description ("lstm:32") through the same loader
// and block factories as a file on disk. Not for the audio thread.

#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace neuralfx {

// {"shape": [...], "data": [...]} with values uniform in [-scale, scale]; 9 significant
// digits, so each float32 survives the text round trip exactly.
inline std::string random_tensor_json(const std::vector<int>& shape, std::mt19937& rng, float scale) {
    std::uniform_real_distribution<float> u(-scale, scale);
    size_t count = 1;
    for (int n : shape) count *= static_cast<size_t>(n);
    std::ostringstream s;
    s.precision(9);
    s << "{\"shape\": [";
    for (size_t i = 0; i < shape.size(); ++i) s << (i ? "," : "") << shape[i];
    s << "], \"data\": [";
    for (size_t i = 0; i < count; ++i) s << (i ? "," : "") << u(rng);
    s << "]}";
    return s.str();
}

// A complete, valid recurrent model file (cell "LSTM" or "GRU", 48 kHz) with PyTorch's default
// init range (+-1/sqrt(hidden)); with_knob adds a "gain" knob the network is conditioned on.
inline std::string random_recurrent_model_json(const std::string& cell, int hidden, int layers, bool with_knob,
                                               unsigned seed = 7) {
    const int gates = cell == "GRU" ? 3 : 4;
    const std::string prefix = cell == "GRU" ? "gru" : "lstm";
    std::mt19937 rng(seed);
    const float scale = 1.0f / std::sqrt(static_cast<float>(hidden));
    std::ostringstream s;
    s << "{\"format\": \"neuralfx-model\", \"version\": 1, \"sample_rate\": 48000,";
    s << "\"knobs\": [" << (with_knob ? "{\"name\": \"gain\", \"min\": 0, \"max\": 10, \"default\": 5, \"unit\": \"\"}" : "")
      << "],";
    s << "\"blocks\": [{\"type\": \"" << cell << "\", \"config\": {\"hidden_size\": " << hidden << ", \"num_layers\": " << layers
      << ", \"skip\": true, \"conditioning\": [" << (with_knob ? "\"gain\"" : "") << "]}, \"weights\": {";
    for (int l = 0; l < layers; ++l) {
        const int in = l == 0 ? (with_knob ? 2 : 1) : hidden;
        const std::string sfx = "_l" + std::to_string(l);
        s << "\"" << prefix << ".weight_ih" << sfx << "\": " << random_tensor_json({gates * hidden, in}, rng, scale) << ",";
        s << "\"" << prefix << ".weight_hh" << sfx << "\": " << random_tensor_json({gates * hidden, hidden}, rng, scale) << ",";
        s << "\"" << prefix << ".bias_ih" << sfx << "\": " << random_tensor_json({gates * hidden}, rng, scale) << ",";
        s << "\"" << prefix << ".bias_hh" << sfx << "\": " << random_tensor_json({gates * hidden}, rng, scale) << ",";
    }
    s << "\"head.weight\": " << random_tensor_json({1, hidden}, rng, scale) << ",";
    s << "\"head.bias\": " << random_tensor_json({1}, rng, scale);
    s << "}}], \"metadata\": {\"source\": \"random\"}}";
    return s.str();
}

inline std::string random_lstm_model_json(int hidden, int layers, bool with_knob, unsigned seed = 7) {
    return random_recurrent_model_json("LSTM", hidden, layers, with_knob, seed);
}

}  // namespace neuralfx
