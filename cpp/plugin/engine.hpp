#pragma once
// Everything the plugin runs on the audio thread for one loaded model: input gain, the model at
// the host's rate, output gain and a dry/wet mix whose dry path is delayed by the same latency.
// An Engine is built whole off the audio thread and handed over by pointer, so swapping models
// never reallocates anything the audio thread is using. JUCE-free.

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "neuralfx/host_rate_model.hpp"

namespace neuralfx {
namespace plugin {

// Host-facing controls, as plain targets; the Engine smooths them.
struct Controls {
    float input_gain = 1.0f;   // linear
    float output_gain = 1.0f;  // linear
    float mix = 1.0f;          // 0 = dry, 1 = wet
};

// One-pole smoother with the kernel's knob time constant. It lands exactly on its target, so a
// control left at its default (gain 1, mix 1) multiplies by exactly 1. A NaN target (a host's
// broken automation reaching a JUCE parameter, which passes NaN through) is ignored, as the
// kernel's knobs ignore it: the smoother would otherwise stay NaN.
class SmoothedControl {
public:
    void configure(double sample_rate) { coefficient_ = static_cast<float>(knob_smoothing_coefficient(sample_rate)); }
    void snap(float target) {
        if (!std::isnan(target)) value_ = target_ = target;
    }
    void set_target(float target) {
        if (!std::isnan(target)) target_ = target;
    }
    bool settled() const { return value_ == target_; }
    float value() const { return value_; }
    float next() {
        if (value_ != target_) {
            value_ += coefficient_ * (target_ - value_);
            if (std::fabs(target_ - value_) < 1e-6f) value_ = target_;
        }
        return value_;
    }

private:
    float value_ = 1.0f, target_ = 1.0f, coefficient_ = 1.0f;
};

class Engine {
public:
    // Off the audio thread. A null model makes a pass-through engine (output == input), used when
    // no model could be loaded: silence would be mistaken for a broken signal chain.
    Engine(std::unique_ptr<Model> model, double host_rate, int channels, int max_block_size)
        : channels_(std::max(channels, 1)), max_block_(std::max(max_block_size, 1)) {
        if (!model) return;
        wet_ = std::make_unique<HostRateModel>(std::move(model), host_rate, channels_, max_block_);
        latency_ = wet_->latency_samples();
        const size_t delay_length = static_cast<size_t>(latency_) + static_cast<size_t>(max_block_);
        dry_line_.assign(static_cast<size_t>(channels_), std::vector<float>(delay_length, 0.0f));
        dry_.assign(static_cast<size_t>(channels_), std::vector<float>(static_cast<size_t>(max_block_), 0.0f));
        for (SmoothedControl* c : {&input_gain_, &output_gain_, &mix_}) c->configure(host_rate);
        knob_values_.assign(wet_->model().knobs().size(), NAN);
    }

    bool has_model() const { return wet_ != nullptr; }
    int latency_samples() const { return latency_; }
    int channels() const { return channels_; }
    int max_block_size() const { return max_block_; }
    Model* model() { return wet_ ? &wet_->model() : nullptr; }
    const HostRateModel* host_rate_model() const { return wet_.get(); }
    int num_knobs() const { return static_cast<int>(knob_values_.size()); }

    // Any thread that owns the engine (audio thread once handed over). Value in knob units.
    void set_knob(int index, float value) {
        if (index < 0 || index >= num_knobs()) return;
        float& last = knob_values_[static_cast<size_t>(index)];
        if (last == value) return;
        last = value;
        wet_->model().set_knob(index, value);
    }

    // New signal: clears every state and jumps all smoothers to their targets.
    void reset(const Controls& controls) {
        if (!wet_) return;
        wet_->reset();
        for (auto& line : dry_line_) std::fill(line.begin(), line.end(), 0.0f);
        dry_write_ = 0;
        snap(controls);
    }

    // Jumps the smoothers to these controls, keeping every signal state.
    void snap(const Controls& controls) {
        input_gain_.snap(controls.input_gain);
        output_gain_.snap(controls.output_gain);
        mix_.snap(controls.mix);
    }

    // Real-time safe: no allocation, locks or I/O. In place.
    void process(float* const* audio, int num_channels, int n, const Controls& controls) {
        if (!wet_) return;
        num_channels = std::min(num_channels, channels_);
        input_gain_.set_target(controls.input_gain);
        output_gain_.set_target(controls.output_gain);
        mix_.set_target(controls.mix);
        for (int start = 0; start < n; start += max_block_) {
            const int len = std::min(max_block_, n - start);
            float* chunk[kMaxChannels];
            for (int ch = 0; ch < num_channels && ch < kMaxChannels; ++ch) chunk[ch] = audio[ch] + start;
            process_chunk(chunk, std::min(num_channels, kMaxChannels), len);
        }
    }

    static constexpr int kMaxChannels = 8;

private:
    void process_chunk(float* const* audio, int num_channels, int n) {
        // The dry signal, delayed by the wet path's latency so that mixing does not comb-filter.
        const int line_length = static_cast<int>(dry_line_.empty() ? 0 : dry_line_[0].size());
        for (int ch = 0; ch < num_channels; ++ch) {
            std::vector<float>& line = dry_line_[static_cast<size_t>(ch)];
            float* dry = dry_[static_cast<size_t>(ch)].data();
            int w = dry_write_;
            for (int i = 0; i < n; ++i) {
                line[static_cast<size_t>(w)] = audio[ch][i];
                int r = w - latency_;
                if (r < 0) r += line_length;
                dry[i] = line[static_cast<size_t>(r)];
                if (++w == line_length) w = 0;
            }
        }
        dry_write_ = (dry_write_ + n) % std::max(line_length, 1);

        apply_gain(input_gain_, audio, num_channels, n);
        wet_->process(audio, num_channels, n);

        if (mix_.settled() && mix_.value() == 1.0f) {
            apply_gain(output_gain_, audio, num_channels, n);
            return;
        }
        for (int i = 0; i < n; ++i) {
            const float m = mix_.next();
            const float g = output_gain_.next();
            for (int ch = 0; ch < num_channels; ++ch) {
                const float dry = dry_[static_cast<size_t>(ch)][static_cast<size_t>(i)];
                audio[ch][i] = (m * audio[ch][i] + (1.0f - m) * dry) * g;
            }
        }
    }

    static void apply_gain(SmoothedControl& gain, float* const* audio, int num_channels, int n) {
        if (gain.settled()) {
            const float g = gain.value();
            if (g == 1.0f) return;
            for (int ch = 0; ch < num_channels; ++ch)
                for (int i = 0; i < n; ++i) audio[ch][i] *= g;
            return;
        }
        for (int i = 0; i < n; ++i) {
            const float g = gain.next();
            for (int ch = 0; ch < num_channels; ++ch) audio[ch][i] *= g;
        }
    }

    int channels_;
    int max_block_;
    int latency_ = 0;
    std::unique_ptr<HostRateModel> wet_;
    std::vector<std::vector<float>> dry_line_;
    std::vector<std::vector<float>> dry_;
    int dry_write_ = 0;
    SmoothedControl input_gain_, output_gain_, mix_;
    std::vector<float> knob_values_;
};

}  // namespace plugin
}  // namespace neuralfx
