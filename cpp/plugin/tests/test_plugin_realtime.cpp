// The plugin's real-time contract, on the processor itself (no host): processBlock allocates and
// frees nothing, also while models are swapped from another thread; swaps are crossfaded; a bad
// state gives a pass-through and a readable error; the state round-trips a custom model.
//
// Allocations are counted by interposing malloc and friends (operator new ends up there too),
// only on the thread and only inside the calls under test.

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <malloc.h>
#include <thread>
#include <vector>

#include "PluginProcessor.h"
#include "neuralfx/model_io.hpp"
#include "../../tests/test_support.hpp"

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void __libc_free(void*);
void* __libc_memalign(size_t, size_t);
}

namespace {
thread_local bool counting = false;
std::atomic<long> allocations{0};
std::atomic<long> frees{0};

struct CountScope {
    CountScope() { counting = true; }
    ~CountScope() { counting = false; }
};
}  // namespace

extern "C" {
void* malloc(size_t n) {
    if (counting) ++allocations;
    return __libc_malloc(n);
}
void* calloc(size_t a, size_t b) {
    if (counting) ++allocations;
    return __libc_calloc(a, b);
}
void* realloc(void* p, size_t n) {
    if (counting) ++allocations;
    return __libc_realloc(p, n);
}
void free(void* p) {
    if (counting && p != nullptr) ++frees;
    __libc_free(p);
}
void* memalign(size_t alignment, size_t n) {
    if (counting) ++allocations;
    return __libc_memalign(alignment, n);
}
void* aligned_alloc(size_t alignment, size_t n) {
    if (counting) ++allocations;
    return __libc_memalign(alignment, n);
}
int posix_memalign(void** out, size_t alignment, size_t n) {
    if (counting) ++allocations;
    *out = __libc_memalign(alignment, n);
    return *out ? 0 : ENOMEM;
}
}

using neuralfx::plugin::NeuralFXProcessor;

namespace {

juce::AudioProcessorParameter* param(NeuralFXProcessor& p, const juce::String& id) {
    for (auto* q : p.getParameters())
        if (auto* w = dynamic_cast<juce::AudioProcessorParameterWithID*>(q); w != nullptr && w->paramID == id) return q;
    std::fprintf(stderr, "no parameter %s\n", id.toRawUTF8());
    std::abort();
}

void set_state(NeuralFXProcessor& p, const std::string& text) {
    p.setStateInformation(text.data(), static_cast<int>(text.size()));
}

// A stereo signal and a buffer that refers to it: building the buffer allocates nothing later.
struct Signal {
    std::vector<float> left, right;
    float* channels[2];
    explicit Signal(size_t n, double rate) : left(nfx_test::test_signal(n, rate, 1)), right(nfx_test::test_signal(n, rate, 2)) {
        channels[0] = left.data();
        channels[1] = right.data();
    }
};

void prepare(NeuralFXProcessor& p, double rate, int block) {
    p.setRateAndBufferSizeDetails(rate, block);
    p.prepareToPlay(rate, block);
}

// Runs the signal through processBlock in blocks of varying size, counting allocations inside
// processBlock only; parameters move between blocks as host automation would move them.
void no_allocation_in_process_block(double rate) {
    NeuralFXProcessor p;
    set_state(p, nfx_test::lstm_model_json_at(48000, 16, true, 3));
    prepare(p, rate, 512);
    CHECK(p.status().rfind("ok", 0) == 0);
    Signal s(static_cast<size_t>(rate), rate);
    std::vector<float> before = s.left;
    juce::MidiBuffer midi;
    const int sizes[] = {512, 1, 7, 64, 300, 512, 33};
    long blocks = 0;
    allocations = 0;
    frees = 0;
    for (size_t pos = 0, b = 0; pos < s.left.size(); ++b) {
        const int n = std::min<int>(sizes[b % 7], static_cast<int>(s.left.size() - pos));
        float* chans[2] = {s.channels[0] + pos, s.channels[1] + pos};
        juce::AudioBuffer<float> buffer(chans, 2, n);
        param(p, "knob1")->setValue(static_cast<float>(b % 10) / 10.0f);
        param(p, "input_gain")->setValue(b % 3 == 0 ? 0.5f : 0.6f);
        param(p, "mix")->setValue(b % 5 == 0 ? 0.7f : 1.0f);
        {
            CountScope scope;
            p.processBlock(buffer, midi);
        }
        pos += static_cast<size_t>(n);
        ++blocks;
    }
    std::printf("  %.0f Hz: %ld blocks, %ld allocations, %ld frees in processBlock\n", rate, blocks,
                allocations.load(), frees.load());
    CHECK(allocations == 0);
    CHECK(frees == 0);
    double diff = 0.0;
    bool finite = true;
    for (size_t i = 0; i < s.left.size(); ++i) {
        diff = std::max(diff, static_cast<double>(std::fabs(s.left[i] - before[i])));
        finite = finite && std::isfinite(s.left[i]);
    }
    CHECK(finite);
    CHECK(diff > 0.01);  // the model did process the audio
}

// Models are replaced from this thread while another thread runs processBlock continuously:
// the audio thread allocates and frees nothing, every new model reaches it, and the switch is
// a crossfade, not a step.
void swap_while_running() {
    const double rate = 48000.0;
    const int block = 64;
    NeuralFXProcessor p;
    const std::string model_a = nfx_test::lstm_model_json_at(48000, 16, false, 21);
    // Resampled, so its output lags model A's by its latency: a hard switch would jump.
    const std::string model_b = nfx_test::identity_model_json(44100);
    set_state(p, model_a);
    prepare(p, rate, block);

    // A steady sine: any step in the output beyond the sine's own comes from a swap.
    const size_t total = static_cast<size_t>(rate) * 3;
    std::vector<float> input(total), output(total);
    for (size_t i = 0; i < total; ++i) input[i] = 0.2f * static_cast<float>(std::sin(2.0 * M_PI * 220.0 * static_cast<double>(i) / rate));
    std::atomic<size_t> position{0};
    std::atomic<bool> done{false};
    allocations = 0;
    frees = 0;
    std::thread audio([&] {
        juce::MidiBuffer midi;
        std::vector<float> l(block), r(block);
        float* chans[2] = {l.data(), r.data()};
        juce::AudioBuffer<float> buffer(chans, 2, block);
        for (size_t pos = 0; pos + block <= total; pos += block) {
            std::memcpy(l.data(), input.data() + pos, sizeof(float) * block);
            std::memcpy(r.data(), input.data() + pos, sizeof(float) * block);
            {
                CountScope scope;
                p.processBlock(buffer, midi);
            }
            std::memcpy(output.data() + pos, l.data(), sizeof(float) * block);
            position = pos + block;
            // Roughly real time x 4, so the loader thread gets its turns.
            std::this_thread::sleep_for(std::chrono::microseconds(300));
        }
        done = true;
    });
    const int built_before = p.engines_built();
    const int swapped_before = p.engines_swapped_in();
    int swaps = 0;
    while (!done) {
        set_state(p, swaps % 2 == 0 ? model_b : model_a);
        ++swaps;
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
    }
    audio.join();
    const int swapped_in = p.engines_swapped_in() - swapped_before;
    std::printf("  %d states set while running, %d engines built, %d swapped in by the audio thread, "
                "%ld allocations, %ld frees on the audio thread\n",
                swaps, p.engines_built() - built_before, swapped_in, allocations.load(), frees.load());
    CHECK(allocations == 0);
    CHECK(frees == 0);
    CHECK(p.engines_built() - built_before >= swaps);
    // Each state reached the audio thread, except possibly the last (set as the run ended).
    CHECK(swaps >= 4);
    CHECK(swapped_in >= swaps - 1);

    // Continuity: the largest sample-to-sample step stays near what model A alone produces on
    // this sine, far below the jump a hard switch between the two models would make.
    double max_step = 0.0;
    for (size_t i = 1; i < position; ++i) max_step = std::max(max_step, static_cast<double>(std::fabs(output[i] - output[i - 1])));
    auto a = neuralfx::load_model_from_string(model_a);
    a->prepare(1, 4096);
    std::vector<float> ya(input.begin(), input.begin() + 24000);
    float* pa = ya.data();
    a->process(&pa, 1, static_cast<int>(ya.size()));
    const int lag = neuralfx::HostRateModel::latency_for(48000, 44100, 0);
    double model_step = 0.0, hard_jump = 0.0;
    for (size_t i = 1; i < ya.size(); ++i) model_step = std::max(model_step, static_cast<double>(std::fabs(ya[i] - ya[i - 1])));
    for (size_t i = 12000; i < ya.size(); ++i)
        hard_jump = std::max(hard_jump, static_cast<double>(std::fabs(ya[i] - input[i - static_cast<size_t>(lag)])));
    std::printf("  largest step %.4f (model A alone %.4f, a hard switch would jump up to %.3f)\n", max_step, model_step,
                hard_jump);
    CHECK(max_step < 1.5 * model_step);
    CHECK(max_step < hard_jump / 5.0);
}

// The model parameter automated while audio runs: the loader thread builds each chosen preset
// and the audio thread swaps it in, allocating and freeing nothing. The loader also looks, less
// often, while no audio runs, so a preset chosen then is built before playback starts.
void model_automation_while_running() {
    NeuralFXProcessor p;
    if (p.num_presets() < 2) {
        std::printf("  skipped: the plugin was built with fewer than two presets\n");
        return;
    }
    auto* model = dynamic_cast<juce::AudioParameterChoice*>(param(p, "model"));
    CHECK(model != nullptr);
    const int block = 256;
    prepare(p, 48000.0, block);
    const auto wait_for = [&](const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return done();
    };

    // No audio running: the choice is still built, off the host's thread.
    int built_before = p.engines_built();
    *model = 1;
    CHECK(wait_for([&] { return p.engines_built() > built_before; }));
    CHECK(p.status().rfind("ok: preset", 0) == 0);

    Signal signal(static_cast<size_t>(block), 48000.0);
    std::atomic<bool> stop{false};
    allocations = 0;
    frees = 0;
    std::thread audio([&] {
        juce::MidiBuffer midi;
        juce::AudioBuffer<float> buffer(signal.channels, 2, block);
        while (!stop) {
            {
                CountScope scope;
                p.processBlock(buffer, midi);
            }
            std::this_thread::sleep_for(std::chrono::microseconds(500));
        }
    });
    // The engine built while no audio ran is the first the audio thread takes.
    CHECK(wait_for([&] { return p.engines_swapped_in() > 0; }));
    int choices = 0;
    for (int round = 0; round < 4; ++round) {
        const int choice = round % 2 == 0 ? 0 : 1;
        const int swapped_before = p.engines_swapped_in();
        built_before = p.engines_built();
        *model = choice;
        ++choices;
        CHECK(wait_for([&] { return p.engines_swapped_in() > swapped_before; }));
        CHECK(p.engines_built() == built_before + 1);
        CHECK(p.status() == "ok: preset '" + model->choices[choice].toStdString() + "'");
    }
    stop = true;
    audio.join();
    std::printf("  %d presets chosen while running, %ld allocations, %ld frees on the audio thread\n", choices,
                allocations.load(), frees.load());
    CHECK(allocations == 0);
    CHECK(frees == 0);
}

// Host automation that sends NaN: every parameter ignores it (the output is the same as without
// it: not NaN, and not silence).
void nan_automation_is_ignored() {
    auto run = [](bool nan_knob_and_mix, bool nan_gains) {
        NeuralFXProcessor p;
        set_state(p, nfx_test::lstm_model_json_at(48000, 16, true, 3));
        prepare(p, 48000.0, 256);
        param(p, "knob1")->setValue(0.3f);
        param(p, "mix")->setValue(0.8f);
        Signal s(256 * 96, 48000.0);
        juce::MidiBuffer midi;
        for (size_t pos = 0; pos < s.left.size(); pos += 256) {
            if (pos == 4096) {
                if (nan_knob_and_mix) {
                    param(p, "knob1")->setValue(std::nanf(""));
                    param(p, "mix")->setValue(std::nanf(""));
                    CHECK(param(p, "knob1")->getValue() == 0.3f);
                }
                if (nan_gains) {
                    param(p, "input_gain")->setValue(std::nanf(""));
                    param(p, "output_gain")->setValue(std::nanf(""));
                }
            }
            float* chans[2] = {s.channels[0] + pos, s.channels[1] + pos};
            juce::AudioBuffer<float> buffer(chans, 2, 256);
            p.processBlock(buffer, midi);
        }
        return s.left;
    };
    const std::vector<float> reference = run(false, false);
    CHECK(run(true, false) == reference);
    CHECK(run(true, true) == reference);
}

void bad_state_passes_through() {
    NeuralFXProcessor p;
    prepare(p, 48000.0, 256);
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"garbage \x01\x02", "error: bad plugin state"},
        {"{\"format\": \"neuralfx-model\", \"version\": 1, \"sample_rate\": 480", "error: custom model"},
        {"<NeuralFX format=\"1\" model=\"no such preset\"/>", "no such preset"},
        {"<NeuralFX format=\"9\" model=\"(custom)\"/>", "state format 9"},
        {"", "empty state"},
    };
    for (const auto& c : cases) {
        set_state(p, c.first);
        const std::string status = p.status();
        std::printf("  status: %s\n", status.c_str());
        CHECK(status.rfind("error:", 0) == 0);
        CHECK(status.find(c.second) != std::string::npos);
        CHECK(p.getLatencySamples() == 0);
        // While audio runs, the previous model fades out over kSwapFadeSeconds; from then on the
        // output is the input, bit for bit.
        Signal s(4096, 48000.0);
        const std::vector<float> l = s.left, r = s.right;
        juce::AudioBuffer<float> buffer(s.channels, 2, 4096);
        juce::MidiBuffer midi;
        p.processBlock(buffer, midi);
        const size_t fade = static_cast<size_t>(neuralfx::plugin::kSwapFadeSeconds * 48000.0);
        CHECK(std::equal(s.left.begin() + fade, s.left.end(), l.begin() + fade));
        CHECK(std::equal(s.right.begin() + fade, s.right.end(), r.begin() + fade));
        // After a host reset (a new signal) there is nothing to fade: bit for bit at once.
        p.reset();
        Signal t(4096, 48000.0);
        const std::vector<float> tl = t.left;
        juce::AudioBuffer<float> tb(t.channels, 2, 4096);
        p.processBlock(tb, midi);
        CHECK(t.left == tl);
        // The text a host shows for the status parameter says the same.
        CHECK(param(p, "status")->getText(0.0f, 1024).toStdString() == status);
        // Saved again (a project saved by a newer build, reopened and saved here), the state is
        // the one that came in, and restoring it gives the same reason.
        juce::MemoryBlock saved;
        p.getStateInformation(saved);
        const std::string saved_text(static_cast<const char*>(saved.getData()), saved.getSize());
        if (status.rfind("error: bad plugin state", 0) == 0) CHECK(saved_text == c.first);
        set_state(p, saved_text);
        CHECK(p.status() == status);
    }
    // And a good model afterwards works again.
    set_state(p, nfx_test::random_lstm_model_json(8, 1, false, 4));
    CHECK(p.status().rfind("ok", 0) == 0);
}

// Bypass keeps the reported latency: the output becomes the input delayed by exactly that
// many samples (after the mix has glided to dry), so toggling bypass does not shift the audio.
void bypass_keeps_latency() {
    NeuralFXProcessor p;
    set_state(p, nfx_test::lstm_model_json_at(48000, 12, false, 9));
    prepare(p, 44100.0, 512);
    const int latency = p.getLatencySamples();
    CHECK(latency == 65);
    juce::MidiBuffer midi;
    {
        // A wet render first, then the host resets (as Pedalboard does before each call).
        Signal wet(4410, 44100.0);
        juce::AudioBuffer<float> buffer(wet.channels, 2, 4410);
        p.processBlock(buffer, midi);
        p.reset();
    }
    Signal s(44100, 44100.0);
    const std::vector<float> input = s.left;
    for (int pos = 0; pos < 44100; pos += 441) {
        float* chans[2] = {s.channels[0] + pos, s.channels[1] + pos};
        juce::AudioBuffer<float> buffer(chans, 2, 441);
        allocations = 0;
        {
            CountScope scope;
            p.processBlockBypassed(buffer, midi);
        }
        CHECK(allocations == 0);
    }
    // From the first sample: a render that starts bypassed starts dry (the delay line's zeros,
    // then the input), with no glide from the wet signal.
    double error = 0.0;
    for (size_t i = 0; i < input.size(); ++i) {
        const float expected = i < static_cast<size_t>(latency) ? 0.0f : input[i - static_cast<size_t>(latency)];
        error = std::max(error, static_cast<double>(std::fabs(s.left[i] - expected)));
    }
    std::printf("  bypassed: output vs input delayed by %d samples: max error %.2g\n", latency, error);
    CHECK(error < 1e-6);
}

void state_round_trip() {
    NeuralFXProcessor a;
    set_state(a, nfx_test::lstm_model_json_at(48000, 12, true, 8));
    param(a, "knob1")->setValueNotifyingHost(0.25f);
    param(a, "output_gain")->setValueNotifyingHost(0.375f);
    juce::MemoryBlock saved;
    a.getStateInformation(saved);
    const std::string xml = saved.toString().toStdString();
    CHECK(xml.find("<CUSTOM_MODEL") != std::string::npos);
    CHECK(xml.find("name=\"gain\"") != std::string::npos);  // knob1's meaning, for readers

    NeuralFXProcessor b;
    b.setStateInformation(saved.getData(), static_cast<int>(saved.getSize()));
    CHECK(b.status().rfind("ok", 0) == 0);
    CHECK(param(b, "knob1")->getValue() == 0.25f);
    CHECK(param(b, "knob1")->getText(0.25f, 64) == "2.500");
    for (NeuralFXProcessor* p : {&a, &b}) prepare(*p, 44100.0, 128);
    Signal sa(8000, 44100.0), sb(8000, 44100.0);
    juce::AudioBuffer<float> ba(sa.channels, 2, 8000), bb(sb.channels, 2, 8000);
    juce::MidiBuffer midi;
    a.processBlock(ba, midi);
    b.processBlock(bb, midi);
    CHECK(sa.left == sb.left && sa.right == sb.right);
    CHECK(a.getLatencySamples() == 65 && b.getLatencySamples() == 65);
}

// The host is told the model's tail (a Delay's echoes), so that it keeps calling the plugin on
// silent input while they sound; it reported none for every model.
void tail_follows_the_model() {
    NeuralFXProcessor p;
    CHECK(p.getTailLengthSeconds() == 0.0);  // the default preset, an amp
    set_state(p, nfx_test::delay_model_json(10.0, 0.5));
    CHECK(p.status().rfind("ok", 0) == 0);
    CHECK(std::fabs(p.getTailLengthSeconds() - 0.1) < 1e-12);  // ten echoes of 10 ms to -60 dB
    // 688 echoes of up to 10 s (time and feedback on knobs, up to 10 s and 0.99): 6880 s, 5.3e9
    // samples at 768 kHz, past the 32-bit count JUCE gives a VST3 host: infinite there, as at an
    // unknown rate.
    std::string long_echoes = nfx_test::delay_model_json(
        10.0, 0.0, R"(, "knobs": {"delay_ms": "time", "feedback": "repeats"})",
        R"({"name": "time", "min": 1, "max": 10000, "default": 10, "unit": "ms"},
           {"name": "repeats", "min": 0, "max": 0.99, "default": 0})");
    const std::string line = "\"max_delay_ms\": 100";
    long_echoes.replace(long_echoes.find(line), line.size(), "\"max_delay_ms\": 10000");
    set_state(p, long_echoes);
    CHECK(p.status().rfind("ok", 0) == 0);
    CHECK(std::isinf(p.getTailLengthSeconds()));  // not prepared: the highest rate is assumed
    prepare(p, 48000.0, 256);
    CHECK(std::fabs(p.getTailLengthSeconds() - 6880.0) < 1e-6);
}

}  // namespace

int main() {
    juce::ScopedJuceInitialiser_GUI juce_runtime;
    // The counter itself works: one vector, one allocation and one free.
    allocations = 0;
    frees = 0;
    {
        CountScope scope;
        std::vector<float> v(100);
        v[0] = 1.0f;
    }
    CHECK(allocations == 1 && frees == 1);
    std::printf("allocations in processBlock\n");
    no_allocation_in_process_block(48000.0);
    no_allocation_in_process_block(44100.0);
    std::printf("model swaps while audio runs\n");
    swap_while_running();
    std::printf("model automation while audio runs\n");
    model_automation_while_running();
    std::printf("NaN automation\n");
    nan_automation_is_ignored();
    std::printf("bad states\n");
    bad_state_passes_through();
    std::printf("bypass\n");
    bypass_keeps_latency();
    std::printf("state round trip\n");
    state_round_trip();
    std::printf("tail\n");
    tail_follows_the_model();
    return nfx_test::finish("test_plugin_realtime");
}
