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

int main() {
    const std::vector<int> nam = neuralfx::nam_dilations();
    // Every neural architecture, each conditioned on the knob; the WaveNet and TCN at a
    // compile-time-sized channel count and at a run-time-sized one.
    const std::vector<std::pair<const char*, std::string>> models = {
        {"LSTM", nfx_test::random_recurrent_model_json("LSTM", 16, 2, true)},
        {"GRU", nfx_test::random_recurrent_model_json("GRU", 16, 2, true)},
        {"WaveNet standard", neuralfx::random_wavenet_model_json({16, 8}, {3, 3}, {nam, nam}, true)},
        {"WaveNet 5,3", neuralfx::random_wavenet_model_json({5, 3}, {2, 3}, {{1, 3, 9}, {2, 700}}, true)},
        {"TCN 16", neuralfx::random_tcn_model_json(16, 13, {1, 4, 16, 64, 256}, true)},
        {"TCN 10", neuralfx::random_tcn_model_json(10, 5, {1, 10, 100, 1000}, true)},
    };
    for (const auto& [cell, json] : models) {
        auto model = neuralfx::load_model_from_string(json);
        const std::vector<float> x = nfx_test::test_signal(8192);
        CHECK(g_allocations.load() > 0);  // the counter works: loading allocated
        for (int channels : {1, 2}) {
            for (int block : {1, 7, 64, 512, 4096}) {
                model->prepare(channels, block);
                std::vector<std::vector<float>> buffers(static_cast<size_t>(channels), x);
                std::vector<float*> ptrs;
                for (auto& b : buffers) ptrs.push_back(b.data());
                const long before = g_allocations.load();
                for (size_t start = 0; start + static_cast<size_t>(block) <= x.size(); start += static_cast<size_t>(block)) {
                    model->set_knob(0, static_cast<float>(start % 10));
                    float* chunk[2] = {ptrs[0] + start, channels > 1 ? ptrs[1] + start : nullptr};
                    model->process(chunk, channels, block);
                }
                model->reset();
                const long during = g_allocations.load() - before;
                if (during != 0) std::fprintf(stderr, "%s channels %d block %d: %ld allocations\n", cell, channels, block, during);
                CHECK(during == 0);
            }
        }
    }
    return nfx_test::finish("test_realtime");
}
