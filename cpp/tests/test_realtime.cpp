// Real-time safety: after prepare(), process() allocates nothing and takes no mutex, for every
// architecture (recurrent layers at compile-time and run-time sizes, and so each vector layout
// the dispatcher picks; ctest runs it again per copy of the hot loops), every DSP block, block
// sizes 1 to 4096, calls shorter and longer than the prepared size, and channel counts 1 and 2,
// with knobs moving; also for a model run at a host rate not its own (HostRateModel). The global
// allocator (and, with glibc, pthread_mutex_lock) is replaced to count. And process() and
// reset() run with denormals flushed to zero.

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <memory>
#include <mutex>

#if defined(__GLIBC__)
#include <dlfcn.h>
#include <pthread.h>
#endif

#include "neuralfx/aligned.hpp"
#include "neuralfx/block.hpp"
#include "neuralfx/host_rate_model.hpp"
#include "neuralfx/model_io.hpp"
#include "test_support.hpp"

namespace {
std::atomic<long> g_allocations{0};
std::atomic<long long> g_bytes{0};
std::atomic<long> g_mutex_locks{0};
}

#if defined(__GLIBC__)
// Every mutex lock made through the C library passes here first (std::mutex included); the real
// one is looked up once, before main, so the counter itself takes no lock.
namespace {
using MutexLock = int (*)(pthread_mutex_t*);
MutexLock g_real_mutex_lock = nullptr;
__attribute__((constructor)) void find_real_mutex_lock() {
    g_real_mutex_lock = reinterpret_cast<MutexLock>(dlsym(RTLD_NEXT, "pthread_mutex_lock"));
}
}  // namespace
extern "C" int pthread_mutex_lock(pthread_mutex_t* mutex) {
    g_mutex_locks.fetch_add(1, std::memory_order_relaxed);
    if (g_real_mutex_lock == nullptr) find_real_mutex_lock();
    return g_real_mutex_lock(mutex);
}
constexpr bool kCountsLocks = true;
#else
constexpr bool kCountsLocks = false;
#endif

// GCC 12 inlines these into each other and then reports free() of memory from operator new
// (-Wmismatched-new-delete), but here new is malloc and delete is free, a matched pair.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    g_bytes.fetch_add(static_cast<long long>(n), std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
// The aligned forms, which the kernel's cache-aligned buffers use (aligned.hpp).
void* operator new(std::size_t n, std::align_val_t a) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    g_bytes.fetch_add(static_cast<long long>(n), std::memory_order_relaxed);
    const std::size_t align = static_cast<std::size_t>(a);
    if (void* p = std::aligned_alloc(align, (n + align - 1) / align * align)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// Every knob moves before every block (to a different value each time), so bound parameters
// (a delay time, a mix) are recomputed per sample while process() runs. After the prepared-size
// blocks come a call shorter than that size (from 7 up) and one longer (the model cuts it into pieces).
// prepared(channels, block) prepares what is checked (a Model, or a HostRateModel built around
// one) for that many channels and blocks and returns it; prepare() allocates, so it runs before
// the counting starts.
neuralfx::Model& kernel_model(neuralfx::Model& model) { return model; }
neuralfx::Model& kernel_model(neuralfx::HostRateModel& host) { return host.model(); }

template <class Prepared>
void check_no_allocations(const char* name, Prepared prepared) {
    const std::vector<float> x = nfx_test::test_signal(16384);
    for (int channels : {1, 2}) {
        for (int block : {1, 7, 16, 64, 256, 512, 1024, 4096}) {
            auto& processor = prepared(channels, block);
            neuralfx::Model& model = kernel_model(processor);
            std::vector<std::vector<float>> buffers(static_cast<size_t>(channels), x);
            std::vector<float*> ptrs;
            for (auto& b : buffers) ptrs.push_back(b.data());
            const long before = g_allocations.load();
            const long locks_before = g_mutex_locks.load();
            size_t start = 0;
            for (; start + static_cast<size_t>(block) <= x.size() / 2; start += static_cast<size_t>(block)) {
                for (int k = 0; k < static_cast<int>(model.knobs().size()); ++k) {
                    const auto& spec = model.knobs()[static_cast<size_t>(k)];
                    const float t = static_cast<float>((start / static_cast<size_t>(block) + 3 * static_cast<size_t>(k)) % 10) / 9.0f;
                    model.set_knob(k, spec.minimum + t * (spec.maximum - spec.minimum));
                }
                float* chunk[2] = {ptrs[0] + start, channels > 1 ? ptrs[1] + start : nullptr};
                processor.process(chunk, channels, block);
            }
            // Shorter (where a block has room for one) and longer than prepared: the second half
            // of the signal holds both for every block size.
            for (const int n : {block > 1 ? std::max(1, block / 3) : 0, block + block / 2 + 1}) {
                if (n < 1) continue;
                CHECK(start + static_cast<size_t>(n) <= x.size());
                float* chunk[2] = {ptrs[0] + start, channels > 1 ? ptrs[1] + start : nullptr};
                processor.process(chunk, channels, n);
                start += static_cast<size_t>(n);
            }
            processor.reset();  // knobs moved since the last settle: settles again
            processor.reset();  // at the same knobs: copies the saved state back
            const long during = g_allocations.load() - before;
            const long locks = g_mutex_locks.load() - locks_before;
            if (during != 0 || locks != 0)
                std::fprintf(stderr, "%s channels %d block %d: %ld allocations, %ld mutex locks\n", name, channels, block,
                             during, locks);
            CHECK(during == 0);
            CHECK(locks == 0);
            for (const auto& b : buffers)
                for (float v : b) CHECK(std::isfinite(v));
        }
    }
}

// A block that records whether denormals are flushed while the model runs it: a product whose
// exact result is subnormal (1e-30 x 1e-10) comes out 0 under flush-to-zero (x86's FTZ/DAZ,
// AArch64's FZ), subnormal otherwise. The bench's silence-after-loud ratio cannot show a missing
// flush on CPUs without a denormal penalty (a Zen 4 core ran subnormal multiply-adds at full rate).
struct FlushProbe final : neuralfx::Block {
    std::shared_ptr<std::vector<bool>> flushed = std::make_shared<std::vector<bool>>();
    static float tiny_product() {
        volatile float a = 1e-30f, b = 1e-10f;
        return a * b;
    }
    void prepare(int) override {}
    void reset() override {}
    void save_state() override {}
    void restore_state() override {}
    void process(float*, int, neuralfx::KnobBuffers) override { flushed->push_back(tiny_product() == 0.0f); }
    std::unique_ptr<neuralfx::Block> clone() const override { return std::make_unique<FlushProbe>(*this); }
};

void check_denormals_flushed() {
    auto probe = std::make_unique<FlushProbe>();
    const auto flushed = probe->flushed;
    flushed->reserve(1 << 16);
    std::vector<std::unique_ptr<neuralfx::Block>> blocks;
    blocks.push_back(std::move(probe));
    neuralfx::Model model(48000.0, {}, std::move(blocks), "{}");
    CHECK(FlushProbe::tiny_product() != 0.0f);  // the probe sees subnormals where nothing flushes them
    model.prepare(1, 64);  // settles: process() of the probe on silence
    const size_t settled = flushed->size();
    CHECK(settled > 0);
    std::vector<float> audio(256, 0.25f);
    float* channels[1] = {audio.data()};
    model.process(channels, 1, static_cast<int>(audio.size()));
    CHECK(flushed->size() > settled);
    bool all = !flushed->empty();
    for (bool f : *flushed) all = all && f;
    CHECK(all);
    CHECK(FlushProbe::tiny_product() != 0.0f);  // and the caller's mode is restored afterwards
}

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
                  "config": {"detector": "peak", "smoothing": "level", "sample_rate": 48000,
                             "knobs": {"threshold_db": "thr", "ratio": "ratio", "range_db": "depth", "attack_ms": "attack",
                                       "release_ms": "release"}},
                  "weights": {"threshold_db": {"shape": [1], "data": [-60]}, "ratio": {"shape": [1], "data": [10]},
                              "range_db": {"shape": [1], "data": [-80]}, "attack_ms": {"shape": [1], "data": [1]},
                              "release_ms": {"shape": [1], "data": [100]}}}]})";
}

}  // namespace

// A Delay with time and feedback on knobs, then a DryWet (mix on a knob) around a second Delay
// and a conditioned LSTM whose weights sit under "blocks.1." as torch names them.
std::string delay_drywet_model_json() {
    std::mt19937 rng(11);
    const int hidden = 8;
    auto w = [&](const std::vector<int>& shape) { return neuralfx::random_tensor_json(shape, rng, 0.35f); };
    auto one = [](double v) { return "{\"shape\": [1], \"data\": [" + std::to_string(v) + "]}"; };
    std::ostringstream s;
    s << R"({"format": "neuralfx-model", "version": 1, "sample_rate": 48000, "knobs": [
        {"name": "time", "min": 1, "max": 100, "default": 20, "unit": "ms"},
        {"name": "repeats", "min": 0, "max": 0.99, "default": 0.5},
        {"name": "wet", "min": 0, "max": 1, "default": 0.5},
        {"name": "gain", "min": 0, "max": 10, "default": 5}],
      "blocks": [
        {"type": "Delay", "config": {"sample_rate": 48000, "max_delay_ms": 100,
                                     "knobs": {"delay_ms": "time", "feedback": "repeats"}},
         "weights": {"delay_ms": )" << one(20.0) << R"(, "feedback": )" << one(0.5) << R"(, "mix": )" << one(0.5) << R"(}},
        {"type": "DryWet", "config": {"knobs": {"mix": "wet"}, "blocks": [
            {"type": "Delay", "config": {"sample_rate": 48000, "max_delay_ms": 2000}},
            {"type": "LSTM", "config": {"hidden_size": 8, "num_layers": 1, "skip": true, "conditioning": ["gain"]}}]},
         "weights": {"mix": )" << one(0.5) << R"(, "blocks.0.delay_ms": )" << one(1234.5) << R"(,
                     "blocks.0.feedback": )" << one(0.9) << R"(, "blocks.0.mix": )" << one(0.5);
    s << R"(, "blocks.1.lstm.weight_ih_l0": )" << w({4 * hidden, 2}) << R"(, "blocks.1.lstm.weight_hh_l0": )"
      << w({4 * hidden, hidden}) << R"(, "blocks.1.lstm.bias_ih_l0": )" << w({4 * hidden})
      << R"(, "blocks.1.lstm.bias_hh_l0": )" << w({4 * hidden}) << R"(, "blocks.1.head.weight": )" << w({1, hidden})
      << R"(, "blocks.1.head.bias": )" << w({1}) << "}}]}";
    return s.str();
}

// A WaveNet's dilated layers keep (kernel - 1) x dilation frames of history each: with long
// dilations that is most of its memory. It is taken once per prepared channel, none at load.
void check_history_memory() {
    const std::string json = neuralfx::random_wavenet_model_json({16}, {3}, {{8192, 8192, 8192, 8192}}, false);
    // Per layer: a span of 2 x 8192 frames plus as much room, and the saved copy of the span
    // that reset() restores (conv_common.hpp), 16 floats a frame.
    const long long per_channel = 4LL * (3 * 2 * 8192) * 16 * static_cast<long long>(sizeof(float));
    long long before = g_bytes.load();
    auto model = neuralfx::load_model_from_string(json);
    const long long loaded = g_bytes.load() - before;
    before = g_bytes.load();
    model->prepare(2, 64);
    const long long prepared = g_bytes.load() - before;
    CHECK(loaded < per_channel / 4);
    CHECK(prepared >= 2 * per_channel && prepared < 2 * per_channel + per_channel / 4);
    if (loaded >= per_channel / 4 || prepared >= 2 * per_channel + per_channel / 4)
        std::printf("history memory: %lld bytes at load, %lld at a stereo prepare, %lld per channel expected\n",
                    loaded, prepared, per_channel);
}

// Gain, a Biquad, a ParametricEQ and a Waveshaper with tone filters, parameters on knobs.
std::string dsp_chain_json() {
    return R"({"format": "neuralfx-model", "version": 1, "sample_rate": 48000, "metadata": {},
      "knobs": [{"name": "level", "min": -60, "max": 24, "default": 0}, {"name": "freq", "min": 20, "max": 23520, "default": 1000},
                {"name": "drive", "min": -24, "max": 48, "default": 12}, {"name": "tone", "min": 20, "max": 23520, "default": 5000}],
      "blocks": [
        {"type": "Gain", "config": {"knobs": {"gain_db": "level"}}, "weights": {"gain_db": {"shape": [1], "data": [0]}}},
        {"type": "Biquad", "config": {"mode": "peak", "sample_rate": 48000, "knobs": {"frequency": "freq"}},
         "weights": {"frequency": {"shape": [1], "data": [800]}, "gain_db": {"shape": [1], "data": [6]},
                     "q": {"shape": [1], "data": [2]}}},
        {"type": "ParametricEQ", "config": {"sample_rate": 48000, "bands": [{"mode": "lowshelf"}, {"mode": "highpass1"}]},
         "weights": {"bands.0.frequency": {"shape": [1], "data": [120]}, "bands.0.gain_db": {"shape": [1], "data": [3]},
                     "bands.0.q": {"shape": [1], "data": [0.7071]}, "bands.1.frequency": {"shape": [1], "data": [40]},
                     "bands.1.gain_db": {"shape": [1], "data": [0]}, "bands.1.q": {"shape": [1], "data": [0.7071]}}},
        {"type": "Waveshaper", "config": {"curve": "tanh", "sample_rate": 48000, "knobs": {"drive_db": "drive"},
                                          "pre": {"mode": "highpass"}, "post": {"mode": "lowpass", "knobs": {"frequency": "tone"}}},
         "weights": {"drive_db": {"shape": [1], "data": [12]}, "bias": {"shape": [1], "data": [0.1]},
                     "pre.frequency": {"shape": [1], "data": [100]}, "pre.gain_db": {"shape": [1], "data": [0]},
                     "pre.q": {"shape": [1], "data": [0.7071]}, "post.frequency": {"shape": [1], "data": [5000]},
                     "post.gain_db": {"shape": [1], "data": [0]}, "post.q": {"shape": [1], "data": [0.7071]}}}]})";
}

// check_no_allocations' preparation for a model that runs at its own rate.
auto prepared_model(neuralfx::Model& model) {
    return [&model](int channels, int block) -> neuralfx::Model& {
        model.prepare(channels, block);
        return model;
    };
}

int main() {
    check_history_memory();
    {
        // The aligned operator new is counted too, and the kernel's buffers start on a cache line.
        const long before = g_allocations.load();
        const neuralfx::AlignedFloats buffer(17);
        CHECK(g_allocations.load() == before + 1);
        CHECK(reinterpret_cast<std::uintptr_t>(buffer.data()) % neuralfx::kCacheLineBytes == 0);
    }
    if (kCountsLocks) {  // the lock counter works: a std::mutex passes through it
        std::mutex mutex;
        const long before = g_mutex_locks.load();
        mutex.lock();
        mutex.unlock();
        CHECK(g_mutex_locks.load() == before + 1);
    } else {
        std::printf("mutex locks not counted on this C library\n");
    }
    check_denormals_flushed();
    const std::vector<int> nam = neuralfx::nam_dilations();
    // Every neural architecture, each conditioned on the knob; the WaveNet and TCN at a
    // compile-time-sized channel count and at a run-time-sized one.
    const std::vector<std::pair<const char*, std::string>> models = {
        {"LSTM", nfx_test::random_recurrent_model_json("LSTM", 16, 2, true)},
        {"GRU", nfx_test::random_recurrent_model_json("GRU", 16, 2, true)},
        // The sizes of the speed targets (16-lane groups on AVX-512), run-time sizes, and a deep one.
        {"LSTM 32", nfx_test::random_recurrent_model_json("LSTM", 32, 1, true)},
        {"GRU 32", nfx_test::random_recurrent_model_json("GRU", 32, 1, false)},
        {"LSTM 13", nfx_test::random_recurrent_model_json("LSTM", 13, 1, true)},
        {"GRU 29", nfx_test::random_recurrent_model_json("GRU", 29, 1, true)},
        {"LSTM 64 x 3", nfx_test::random_recurrent_model_json("LSTM", 64, 3, false)},
        {"WaveNet standard", neuralfx::random_wavenet_model_json({16, 8}, {3, 3}, {nam, nam}, true)},
        {"WaveNet 5,3", neuralfx::random_wavenet_model_json({5, 3}, {2, 3}, {{1, 3, 9}, {2, 700}}, true)},
        {"TCN 16", neuralfx::random_tcn_model_json(16, 13, {1, 4, 16, 64, 256}, true)},
        {"TCN 10", neuralfx::random_tcn_model_json(10, 5, {1, 10, 100, 1000}, true)},
        {"Compressor", compressor_json()},
        {"NoiseGate", noise_gate_json()},
        {"Gain, Biquad, EQ, Waveshaper", dsp_chain_json()},
    };
    for (const auto& [cell, json] : models) {
        auto model = neuralfx::load_model_from_string(json);
        CHECK(g_allocations.load() > 0);  // the counter works: loading allocated
        check_no_allocations(cell, prepared_model(*model));
    }
    auto delay_drywet = neuralfx::load_model_from_string(delay_drywet_model_json());
    CHECK(delay_drywet->num_blocks() == 2);
    check_no_allocations("Delay + DryWet", prepared_model(*delay_drywet));
    // A model at a host rate that is not its own: the resamplers and their FIFO run inside
    // process() too. A 48 kHz LSTM at 44.1 kHz, and at 96 kHz.
    for (const double host_rate : {44100.0, 96000.0}) {
        std::unique_ptr<neuralfx::HostRateModel> host;
        check_no_allocations("LSTM at another host rate", [&](int channels, int block) -> neuralfx::HostRateModel& {
            host = std::make_unique<neuralfx::HostRateModel>(
                neuralfx::load_model_from_string(nfx_test::random_recurrent_model_json("LSTM", 16, 1, true)), host_rate,
                channels, block);
            CHECK(host->resampling());
            return *host;
        });
    }
    return nfx_test::finish("test_realtime");
}
