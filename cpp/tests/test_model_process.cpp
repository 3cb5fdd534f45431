// The kernel's processing contract: output independent of block size, reset restores the
// initial state (settled on silence), channels are independent, knob changes are smoothed, output stays finite.

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "neuralfx/model_io.hpp"
#include "test_support.hpp"

namespace {

std::vector<float> run(neuralfx::Model& m, const std::vector<float>& input, int block) {
    std::vector<float> out = input;
    m.prepare(1, block);
    float* p = out.data();
    for (size_t start = 0; start < out.size(); start += static_cast<size_t>(block)) {
        float* chunk = p + start;
        const int n = static_cast<int>(std::min<size_t>(static_cast<size_t>(block), out.size() - start));
        m.process(&chunk, 1, n);
    }
    return out;
}

// A NaN anywhere is the result (which fails every comparison): std::max would drop it at the
// next element that is not NaN.
float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    float d = 0.0f;
    for (size_t i = 0; i < a.size(); ++i) {
        const float diff = std::fabs(a[i] - b[i]);
        if (std::isnan(diff)) return diff;
        d = std::max(diff, d);
    }
    return d;
}

}  // namespace

int main() {
    auto model = neuralfx::load_model_from_string(nfx_test::random_lstm_model_json(12, 2, true));
    const std::vector<float> x = nfx_test::test_signal(9000);

    // Before prepare(): refused, buffers untouched (with no channels too, where a zero chunk
    // size would otherwise loop forever).
    {
        std::vector<float> buffer = x;
        float* p = buffer.data();
        model->reset();  // nothing to reset yet (it once wrote the settled knob values past an empty vector)
        CHECK(!model->process(&p, 1, 64));
        CHECK(!model->process(&p, 0, 64));
        CHECK(max_abs_diff(buffer, x) == 0.0f);
    }

    // Block size changes nothing: each sample sees the same arithmetic in the same order.
    const std::vector<float> reference = run(*model, x, 4096);
    for (int block : {1, 7, 64, 512}) CHECK(max_abs_diff(run(*model, x, block), reference) == 0.0f);
    CHECK(max_abs_diff(reference, x) > 1e-3f);  // the model does something

    // reset() returns to the state right after prepare().
    {
        std::vector<float> a = x, b = x;
        model->prepare(1, 512);
        float* pa = a.data();
        model->process(&pa, 1, static_cast<int>(a.size()));
        model->reset();
        float* pb = b.data();
        model->process(&pb, 1, static_cast<int>(b.size()));
        CHECK(max_abs_diff(a, b) == 0.0f);
    }

    // Stereo: each channel has its own state; identical inputs give identical outputs, and a
    // silent channel does not pick up the other one's signal.
    {
        std::vector<float> left = x, right = x, silent(x.size(), 0.0f), other = x;
        model->prepare(3, 256);
        float* chans[3] = {left.data(), right.data(), silent.data()};
        CHECK(model->process(chans, 3, static_cast<int>(x.size())));
        CHECK(max_abs_diff(left, right) == 0.0f);
        model->prepare(1, 256);
        std::vector<float> alone(x.size(), 0.0f);
        float* pa = alone.data();
        model->process(&pa, 1, static_cast<int>(alone.size()));
        CHECK(max_abs_diff(silent, alone) == 0.0f);
        // More channels than prepared: refused, buffers untouched.
        float* two[2] = {other.data(), other.data()};
        CHECK(!model->process(two, 2, 16));
        CHECK(max_abs_diff(other, x) == 0.0f);
    }

    // A knob move is smoothed: the output changes gradually, not in one step, and the knob
    // value reads back clamped to its range.
    {
        model->prepare(1, 64);
        model->set_knob(0, 50.0f);
        CHECK(model->knob(0) == 10.0f);
        model->set_knob(0, 0.0f);
        model->reset();
        std::vector<float> a = run(*model, x, 64);
        model->set_knob(0, 10.0f);
        std::vector<float> b = run(*model, x, 64);
        CHECK(max_abs_diff(a, b) > 1e-3f);

        // NaN (broken host automation) is ignored: the knob keeps its value and the output is
        // the same as without it, where a NaN target would have latched the smoother at NaN.
        model->set_knob(0, 10.0f);
        const float before = model->knob(0);
        model->set_knob(0, std::nanf(""));
        CHECK(model->knob(0) == before);
        CHECK(max_abs_diff(run(*model, x, 64), b) == 0.0f);

        // An index that is no knob's (knob_index of a misspelt name is -1) changes nothing: it
        // wrote past the knobs and corrupted the heap.
        const int knobs = static_cast<int>(model->knobs().size());
        CHECK(model->knob_index("no such knob") == -1);
        CHECK(!model->set_knob(-1, 5.0f) && !model->set_knob(knobs, 5.0f) && model->set_knob(0, 10.0f));
        CHECK(std::isnan(model->knob(-1)) && std::isnan(model->knob(knobs)));
        CHECK(max_abs_diff(run(*model, x, 64), b) == 0.0f);
    }

    // reset() copies the saved settled state back when the knobs are where they were settled,
    // and settles again when they moved: either way the output is that of a model freshly
    // prepared at those knob values.
    {
        model->set_knob(0, 0.0f);
        const std::vector<float> at0 = run(*model, x, 64);  // run() prepares: settles at 0
        model->set_knob(0, 10.0f);
        const std::vector<float> at10 = run(*model, x, 64);
        CHECK(max_abs_diff(at0, at10) > 1e-3f);
        std::vector<float> y = x;
        float* p = y.data();
        model->prepare(1, 64);  // settled at 10
        model->process(&p, 1, static_cast<int>(y.size()));
        model->set_knob(0, 0.0f);
        model->reset();  // moved: settles at 0
        y = x;
        p = y.data();
        model->process(&p, 1, static_cast<int>(y.size()));
        CHECK(max_abs_diff(y, at0) == 0.0f);
        model->reset();  // unmoved: the saved state
        y = x;
        p = y.data();
        model->process(&p, 1, static_cast<int>(y.size()));
        CHECK(max_abs_diff(y, at0) == 0.0f);
    }

    // Prepared and reset models start at rest: on silence the output is its resting value from
    // the first sample, with no transient out of the zero state (this random LSTM's first
    // sample from zero was far from where it settles).
    {
        const std::vector<float> silence(2048, 0.0f);
        for (int block : {1, 64, 4096}) {
            const std::vector<float> y = run(*model, silence, block);
            const std::vector<float> rest(y.size(), y.back());
            CHECK(max_abs_diff(y, rest) < 1e-6f);
            CHECK(std::fabs(y.back()) > 1e-3f);  // a resting output that is not zero: a case that tests something
        }
    }

    // Finite output for extreme but finite input, and silence after it.
    {
        std::vector<float> loud(48000);
        for (size_t i = 0; i < loud.size(); ++i) loud[i] = (i % 100 < 50) ? 1e4f : -1e4f;
        loud.resize(96000, 0.0f);
        const std::vector<float> y = run(*model, loud, 512);
        bool finite = true;
        for (float v : y) finite = finite && std::isfinite(v);
        CHECK(finite);
    }

    // A NaN or infinite input sample is silence: the output stays finite, before and after it, and
    // equals the output for a 0 there (one NaN made every later block NaN, until a reset). For
    // every architecture, whose states (recurrent, convolution history, filters) would keep it.
    // The shipped compressor and clean_amp presets hold the DSP blocks (dynamics, filters).
    std::vector<std::unique_ptr<neuralfx::Model>> models;
    for (const std::string& json :
         {nfx_test::random_lstm_model_json(12, 2, true), neuralfx::random_recurrent_model_json("GRU", 8, 1, false),
          neuralfx::random_wavenet_model_json({4, 2}, {3, 3}, {{1, 2}, {4}}, false),
          neuralfx::random_tcn_model_json(4, 3, {1, 4}, false)})
        models.push_back(neuralfx::load_model_from_string(json));
    for (const char* preset : {"compressor", "clean_amp"})
        models.push_back(neuralfx::load_model_from_file(std::string(NEURALFX_PRESETS_DIR) + "/" + preset + ".nfx"));
    // A burst near the float32 maximum is held at kInputLimit: clean_amp with its gain knob at
    // the top overflowed into NaN in its filters' states, and every later block was NaN.
    for (auto& m : models) {
        if (!m->knobs().empty()) m->set_knob(0, m->knobs()[0].maximum);
        std::vector<float> x = nfx_test::test_signal(4096), limited = x;
        x[100] = std::nanf("");
        x[2000] = std::numeric_limits<float>::infinity();
        x[3000] = -std::numeric_limits<float>::infinity();
        limited[100] = limited[2000] = limited[3000] = 0.0f;
        for (int i = 1000; i < 1100; ++i) {
            x[static_cast<size_t>(i)] = i % 2 ? 3.4e38f : -3.4e38f;
            limited[static_cast<size_t>(i)] = i % 2 ? neuralfx::kInputLimit : -neuralfx::kInputLimit;
        }
        const std::vector<float> y = run(*m, x, 256);
        CHECK(max_abs_diff(y, run(*m, limited, 256)) == 0.0f);  // NaN in y fails this too
        CHECK(max_abs_diff(y, run(*m, nfx_test::test_signal(4096), 256)) > 1e-6f);  // the samples did change
    }

    // The tail (what the plugin tells a host): a Delay's echoes until they fall 60 dB, at the
    // longest time and strongest feedback its knobs allow, summed over the chain; none for a
    // network or a compressor.
    {
        auto echoes = neuralfx::load_model_from_string(nfx_test::delay_model_json(10.0, 0.5));
        // 0.5^9 of the first echo is above 1e-3 and 0.5^10 below: ten echoes of 480 samples.
        CHECK(std::fabs(echoes->tail_seconds() - 4800.0 / 48000.0) < 1e-12);
        std::vector<float> impulse(8000, 0.0f);
        impulse[0] = 1.0f;
        const std::vector<float> y = run(*echoes, impulse, 512);
        float before = 0.0f, after = 0.0f;
        for (size_t i = 4800 - 480 + 1; i <= 4800; ++i) before = std::max(before, std::fabs(y[i]));
        for (size_t i = 4801; i < y.size(); ++i) after = std::max(after, std::fabs(y[i]));
        CHECK(before > 1e-3f && after < 1e-3f);
        CHECK(std::fabs(neuralfx::load_model_from_string(nfx_test::delay_model_json(10.0, 0.0))->tail_seconds() - 0.01) <
              1e-12);
        const std::string knobs = R"({"name": "time", "min": 1, "max": 100, "default": 20, "unit": "ms"},
                                     {"name": "repeats", "min": 0, "max": 0.99, "default": 0})";
        auto bound = neuralfx::load_model_from_string(
            nfx_test::delay_model_json(10.0, 0.0, R"(, "knobs": {"delay_ms": "time", "feedback": "repeats"})", knobs));
        CHECK(std::fabs(bound->tail_seconds() - 688 * 0.1) < 1e-9);  // 0.99^687 > 1e-3 > 0.99^688, at 100 ms
        CHECK(models[0]->tail_seconds() == 0.0 && models[4]->tail_seconds() == 0.0);  // an LSTM, the compressor
    }
    return nfx_test::finish("test_model_process");
}
