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

}  // namespace nfx_test
