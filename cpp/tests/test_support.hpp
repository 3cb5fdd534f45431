#pragma once
// A minimal check harness and test signals for the C++ tests. Reference data that
// must agree with torch is produced by the pytest suite; these tests check the kernel alone.

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "neuralfx/random_model.hpp"

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

// Random-weight LSTM model files come from the header the bench uses too.
using neuralfx::random_lstm_model_json;
using neuralfx::random_recurrent_model_json;

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

// An LSTM whose head is all zeros: with the input skip, y = x exactly. Through the resampler
// it shows the conversion alone; at the model's rate it is a bit-exact pass-through.
inline std::string identity_model_json(int sample_rate, int hidden = 2) {
    auto zeros = [](int count) {
        std::ostringstream s;
        for (int i = 0; i < count; ++i) s << (i ? "," : "") << "0";
        return s.str();
    };
    std::ostringstream s;
    s << "{\"format\": \"neuralfx-model\", \"version\": 1, \"sample_rate\": " << sample_rate << ", \"knobs\": [],"
      << "\"blocks\": [{\"type\": \"LSTM\", \"config\": {\"hidden_size\": " << hidden
      << ", \"num_layers\": 1, \"skip\": true}, \"weights\": {"
      << "\"lstm.weight_ih_l0\": {\"shape\": [" << 4 * hidden << ", 1], \"data\": [" << zeros(4 * hidden) << "]},"
      << "\"lstm.weight_hh_l0\": {\"shape\": [" << 4 * hidden << ", " << hidden << "], \"data\": ["
      << zeros(4 * hidden * hidden) << "]},"
      << "\"lstm.bias_ih_l0\": {\"shape\": [" << 4 * hidden << "], \"data\": [" << zeros(4 * hidden) << "]},"
      << "\"lstm.bias_hh_l0\": {\"shape\": [" << 4 * hidden << "], \"data\": [" << zeros(4 * hidden) << "]},"
      << "\"head.weight\": {\"shape\": [1, " << hidden << "], \"data\": [" << zeros(hidden) << "]},"
      << "\"head.bias\": {\"shape\": [1], \"data\": [0]}}}], \"metadata\": {\"source\": \"identity\"}}";
    return s.str();
}

// random_lstm_model_json at another sample rate.
inline std::string lstm_model_json_at(int sample_rate, int hidden, bool with_knob, unsigned seed) {
    std::string text = random_lstm_model_json(hidden, 1, with_knob, seed);
    const std::string from = "\"sample_rate\": 48000";
    text.replace(text.find(from), from.size(), "\"sample_rate\": " + std::to_string(sample_rate));
    return text;
}

// A 48 kHz model of one Delay at mix 1 (a line of 100 ms at most): its time and feedback as
// weights; `config` adds config entries (", \"knobs\": {...}"), `knobs` declares model knobs.
inline std::string delay_model_json(double ms, double feedback, const std::string& config = "",
                                    const std::string& knobs = "") {
    return R"({"format": "neuralfx-model", "version": 1, "sample_rate": 48000, "knobs": [)" + knobs +
           R"(], "blocks": [{"type": "Delay", "config": {"sample_rate": 48000, "max_delay_ms": 100)" + config +
           R"(}, "weights": {"delay_ms": {"shape": [1], "data": [)" + std::to_string(ms) +
           R"(]}, "feedback": {"shape": [1], "data": [)" + std::to_string(feedback) +
           R"(]}, "mix": {"shape": [1], "data": [1]}}}]})";
}

}  // namespace nfx_test
