#pragma once
// A minimal check harness and model-file builders for the C++ tests. Reference data that
// must agree with torch is produced by the pytest suite; these tests check the kernel alone.

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace nfx_test {

inline int& failures() {
    static int count = 0;
    return count;
}

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            ++nfx_test::failures();                                                         \
        }                                                                                   \
    } while (0)

inline int finish(const char* name) {
    if (nfx_test::failures()) {
        std::fprintf(stderr, "%s: %d check(s) failed\n", name, nfx_test::failures());
        return 1;
    }
    std::printf("%s: all checks passed\n", name);
    return 0;
}

inline std::string random_tensor(const std::vector<int>& shape, std::mt19937& rng, float scale) {
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

// A complete, valid recurrent model file ("LSTM" or "GRU") with random weights; with_knob adds
// a "gain" knob the network is conditioned on.
inline std::string recurrent_model_json(const std::string& cell, int hidden, int layers, bool with_knob, unsigned seed = 7) {
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
        s << "\"" << prefix << ".weight_ih" << sfx << "\": " << random_tensor({gates * hidden, in}, rng, scale) << ",";
        s << "\"" << prefix << ".weight_hh" << sfx << "\": " << random_tensor({gates * hidden, hidden}, rng, scale) << ",";
        s << "\"" << prefix << ".bias_ih" << sfx << "\": " << random_tensor({gates * hidden}, rng, scale) << ",";
        s << "\"" << prefix << ".bias_hh" << sfx << "\": " << random_tensor({gates * hidden}, rng, scale) << ",";
    }
    s << "\"head.weight\": " << random_tensor({1, hidden}, rng, scale) << ",";
    s << "\"head.bias\": " << random_tensor({1}, rng, scale);
    s << "}}], \"metadata\": {\"source\": \"test\"}}";
    return s.str();
}

inline std::string lstm_model_json(int hidden, int layers, bool with_knob, unsigned seed = 7) {
    return recurrent_model_json("LSTM", hidden, layers, with_knob, seed);
}

// Plucked-string-like test signal: decaying harmonics with a noisy attack.
inline std::vector<float> test_signal(size_t n, double rate = 48000.0, unsigned seed = 3) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    std::vector<float> x(n);
    for (size_t i = 0; i < n; ++i) {
        const double t = static_cast<double>(i % 24000) / rate;
        const double env = std::exp(-6.0 * t);
        double v = 0.0;
        for (int h = 1; h <= 5; ++h) v += std::sin(2.0 * M_PI * 110.0 * h * t) / h;
        x[i] = static_cast<float>(0.5 * env * v) + (t < 0.005 ? 0.3f * noise(rng) : 0.0f);
    }
    return x;
}

}  // namespace nfx_test
