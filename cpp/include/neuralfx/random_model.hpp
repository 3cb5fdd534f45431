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


namespace detail {
inline std::string model_header(bool with_knob) {
    std::ostringstream s;
    s << "{\"format\": \"neuralfx-model\", \"version\": 1, \"sample_rate\": 48000,";
    s << "\"knobs\": [" << (with_knob ? "{\"name\": \"gain\", \"min\": 0, \"max\": 10, \"default\": 5, \"unit\": \"\"}" : "")
      << "],";
    return s.str();
}
inline std::string int_list(const std::vector<int>& v) {
    std::ostringstream s;
    s << "[";
    for (size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
    s << "]";
    return s.str();
}
}  // namespace detail

// The Neural Amp Modeler "standard" WaveNet layout: dilations 1..512 in each of two arrays.
inline std::vector<int> nam_dilations() { return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512}; }

// A WaveNet model file (neuralfx/models/wavenet.py) with random weights, +-1/sqrt(fan-in) as
// PyTorch's default init; with_knob adds a "gain" knob that drives FiLM (random FiLM weights,
// so the knob audibly matters).
inline std::string random_wavenet_model_json(const std::vector<int>& channels, const std::vector<int>& kernel_sizes,
                                             const std::vector<std::vector<int>>& dilations, bool with_knob,
                                             unsigned seed = 7) {
    std::mt19937 rng(seed);
    std::ostringstream s;
    s << detail::model_header(with_knob);
    s << "\"blocks\": [{\"type\": \"WaveNet\", \"config\": {\"channels\": " << detail::int_list(channels)
      << ", \"kernel_sizes\": " << detail::int_list(kernel_sizes) << ", \"dilations\": [";
    for (size_t a = 0; a < dilations.size(); ++a) s << (a ? "," : "") << detail::int_list(dilations[a]);
    s << "], \"head_scale\": 0.02, \"conditioning\": [" << (with_knob ? "\"gain\"" : "") << "]}, \"weights\": {";
    int film_rows = 0;
    for (size_t a = 0; a < channels.size(); ++a) {
        const int C = channels[a], in = a == 0 ? 1 : channels[a - 1], K = kernel_sizes[a];
        const int head = a + 1 < channels.size() ? channels[a + 1] : 1;
        const std::string p = "\"arrays." + std::to_string(a) + ".";
        const float conv_scale = 1.0f / std::sqrt(static_cast<float>(C * K)), lin = 1.0f / std::sqrt(static_cast<float>(C));
        s << p << "rechannel.weight\": " << random_tensor_json({C, in, 1}, rng, 1.0f / std::sqrt(static_cast<float>(in))) << ",";
        for (size_t l = 0; l < dilations[a].size(); ++l) {
            const std::string q = p + "layers." + std::to_string(l) + ".";
            s << q << "conv.weight\": " << random_tensor_json({C, C, K}, rng, conv_scale) << ",";
            s << q << "conv.bias\": " << random_tensor_json({C}, rng, conv_scale) << ",";
            s << q << "mixin.weight\": " << random_tensor_json({C, 1, 1}, rng, 1.0f) << ",";
            s << q << "out.weight\": " << random_tensor_json({C, C, 1}, rng, lin) << ",";
            s << q << "out.bias\": " << random_tensor_json({C}, rng, lin) << ",";
            film_rows += 2 * C;
        }
        s << p << "head.weight\": " << random_tensor_json({head, C, 1}, rng, lin);
        if (a + 1 == channels.size()) s << "," << p << "head.bias\": " << random_tensor_json({1}, rng, lin);
        s << ",";
    }
    if (with_knob) {
        s << "\"film.linear.weight\": " << random_tensor_json({film_rows, 1}, rng, 0.5f) << ",";
        s << "\"film.linear.bias\": " << random_tensor_json({film_rows}, rng, 0.1f) << ",";
    }
    s.seekp(-1, std::ios_base::cur);  // the last comma
    s << "}}], \"metadata\": {\"source\": \"random\"}}";
    return s.str();
}

// A TCN model file (neuralfx/models/tcn.py) with random weights; with_knob as above.
inline std::string random_tcn_model_json(int channels, int kernel_size, const std::vector<int>& dilations, bool with_knob,
                                         unsigned seed = 7) {
    std::mt19937 rng(seed);
    std::ostringstream s;
    s << detail::model_header(with_knob);
    s << "\"blocks\": [{\"type\": \"TCN\", \"config\": {\"channels\": " << channels << ", \"kernel_size\": " << kernel_size
      << ", \"dilations\": " << detail::int_list(dilations) << ", \"conditioning\": [" << (with_knob ? "\"gain\"" : "")
      << "]}, \"weights\": {";
    for (size_t l = 0; l < dilations.size(); ++l) {
        const int in = l == 0 ? 1 : channels;
        const std::string q = "\"layers." + std::to_string(l) + ".";
        const float scale = 1.0f / std::sqrt(static_cast<float>(in * kernel_size));
        s << q << "conv.weight\": " << random_tensor_json({channels, in, kernel_size}, rng, scale) << ",";
        s << q << "conv.bias\": " << random_tensor_json({channels}, rng, scale) << ",";
        s << q << "act.weight\": " << random_tensor_json({channels}, rng, 0.25f) << ",";
        if (in != channels) s << q << "res.weight\": " << random_tensor_json({channels, in, 1}, rng, 1.0f) << ",";
    }
    s << "\"output.weight\": " << random_tensor_json({1, channels, 1}, rng, 1.0f / std::sqrt(static_cast<float>(channels)))
      << ",";
    s << "\"output.bias\": " << random_tensor_json({1}, rng, 0.1f);
    if (with_knob) {
        const int rows = 2 * channels * static_cast<int>(dilations.size());
        s << ",\"film.linear.weight\": " << random_tensor_json({rows, 1}, rng, 0.5f);
        s << ",\"film.linear.bias\": " << random_tensor_json({rows}, rng, 0.1f);
    }
    s << "}}], \"metadata\": {\"source\": \"random\"}}";
    return s.str();
}

}  // namespace neuralfx
