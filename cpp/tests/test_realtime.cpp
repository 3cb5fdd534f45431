// Real-time safety: after prepare(), process() allocates nothing, for every block size and
// channel count, with knobs moving. The global allocator is replaced to count allocations.

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "neuralfx/model_io.hpp"
#include "test_support.hpp"

namespace {
std::atomic<long> g_allocations{0};
}

void* operator new(std::size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

// DSP blocks with every parameter bound to a knob, so process() recomputes coefficients
// (exp, pow) per sample while the knobs glide.
std::string compressor_json() {
    return R"({"format": "neuralfx-model", "version": 1, "sample_rate": 48000, "metadata": {},
      "knobs": [{"name": "thr", "min": -80, "max": 0, "default": -30}, {"name": "ratio", "min": 1, "max": 20, "default": 4},
                {"name": "knee", "min": 0, "max": 24, "default": 6}, {"name": "attack", "min": 0.1, "max": 500, "default": 5},
                {"name": "release", "min": 1, "max": 5000, "default": 50}, {"name": "makeup", "min": -24, "max": 24, "default": 0}],
      "blocks": [{"type": "Compressor",
                  "config": {"detector": "rms", "rms_ms": 5.0, "sample_rate": 48000,
                             "knobs": {"threshold_db": "thr", "ratio": "ratio", "knee_db": "knee", "attack_ms": "attack",
                                       "release_ms": "release", "makeup_db": "makeup"}},
                  "weights": {"threshold_db": {"shape": [1], "data": [-20]}, "ratio": {"shape": [1], "data": [4]},
                              "knee_db": {"shape": [1], "data": [6]}, "attack_ms": {"shape": [1], "data": [5]},
                              "release_ms": {"shape": [1], "data": [100]}, "makeup_db": {"shape": [1], "data": [0]}}}]})";
}

std::string noise_gate_json() {
    return R"({"format": "neuralfx-model", "version": 1, "sample_rate": 48000, "metadata": {},
      "knobs": [{"name": "thr", "min": -100, "max": 0, "default": -30}, {"name": "ratio", "min": 1, "max": 50, "default": 10},
                {"name": "depth", "min": -100, "max": 0, "default": -60}, {"name": "attack", "min": 0.1, "max": 500, "default": 1},
                {"name": "release", "min": 1, "max": 5000, "default": 50}],
      "blocks": [{"type": "NoiseGate",
                  "config": {"detector": "peak", "sample_rate": 48000,
                             "knobs": {"threshold_db": "thr", "ratio": "ratio", "range_db": "depth", "attack_ms": "attack",
                                       "release_ms": "release"}},
                  "weights": {"threshold_db": {"shape": [1], "data": [-60]}, "ratio": {"shape": [1], "data": [10]},
                              "range_db": {"shape": [1], "data": [-80]}, "attack_ms": {"shape": [1], "data": [1]},
                              "release_ms": {"shape": [1], "data": [100]}}}]})";
}

}  // namespace

int main() {
    const std::vector<std::pair<std::string, std::string>> models = {
        {"LSTM", nfx_test::random_recurrent_model_json("LSTM", 16, 2, true)},
        {"GRU", nfx_test::random_recurrent_model_json("GRU", 16, 2, true)},
        {"Compressor", compressor_json()},
        {"NoiseGate", noise_gate_json()},
    };
    for (const auto& [name, json] : models) {
        auto model = neuralfx::load_model_from_string(json);
        const std::vector<float> x = nfx_test::test_signal(8192);
        CHECK(g_allocations.load() > 0);  // the counter works: loading allocated
        const int knobs = static_cast<int>(model->knobs().size());
        for (int channels : {1, 2}) {
            for (int block : {1, 7, 64, 512, 4096}) {
                model->prepare(channels, block);
                std::vector<std::vector<float>> buffers(static_cast<size_t>(channels), x);
                std::vector<float*> ptrs;
                for (auto& b : buffers) ptrs.push_back(b.data());
                const long before = g_allocations.load();
                for (size_t start = 0; start + static_cast<size_t>(block) <= x.size(); start += static_cast<size_t>(block)) {
                    for (int k = 0; k < knobs; ++k) {  // every knob moves, through its whole range
                        const auto& spec = model->knobs()[static_cast<size_t>(k)];
                        const float t = static_cast<float>((start / static_cast<size_t>(block) + static_cast<size_t>(k)) % 11) / 10.0f;
                        model->set_knob(k, spec.minimum + t * (spec.maximum - spec.minimum));
                    }
                    float* chunk[2] = {ptrs[0] + start, channels > 1 ? ptrs[1] + start : nullptr};
                    model->process(chunk, channels, block);
                }
                model->reset();
                const long during = g_allocations.load() - before;
                if (during != 0) std::fprintf(stderr, "%s channels %d block %d: %ld allocations\n", name.c_str(), channels, block, during);
                CHECK(during == 0);
                for (const auto& b : buffers)
                    for (float v : b) CHECK(std::isfinite(v));
            }
        }
    }
    return nfx_test::finish("test_realtime");
}
