#pragma once
// A kernel Model run at its own rate inside a host running at another, through the kernel's
// StreamResampler: what the VST3 plugin runs, and what a product embedding the kernel uses where
// the host's rate is not the model's (docs/EMBEDDING.md). JUCE-free; tested by
// cpp/tests/test_host_rate_model.cpp.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "model.hpp"
#include "model_io.hpp"  // the range of sample rates a model file may declare
#include "resampler.hpp"

namespace neuralfx {

// A Model run at the host's sample rate: direct when the rates match, otherwise
// host -> model rate -> kernel -> host rate, with a fixed whole-sample latency that also absorbs
// the model's own latency (so an impulse lands exactly latency_samples() later).
class HostRateModel {
public:
    // Off the audio thread; prepares the model (do not prepare it first: that settles it twice).
    // channels and max_block_size below 1 are taken as 1. Throws UnsupportedRateError for a rate
    // pair it cannot convert (supports() answers beforehand), before it takes the model: the
    // caller's pointer still holds it then.
    HostRateModel(std::unique_ptr<Model>&& model, double host_rate, int channels, int max_block_size)
        : model_(checked(std::move(model), host_rate)),
          channels_(std::max(channels, 1)),
          max_block_(std::max(max_block_size, 1)),
          host_rate_(std::lround(host_rate)),
          model_rate_(std::lround(model_->sample_rate())) {
        resampling_ = host_rate_ != model_rate_;
        if (!resampling_) {
            model_->prepare(channels_, max_block_);
            latency_ = model_->latency_samples();
            return;
        }
        const long long model_latency = model_->latency_samples();
        latency_ = latency_for(host_rate_, model_rate_, model_->latency_samples());
        // Delays in units of 1 / (host_rate * model_rate) s: a host sample is model_rate of them.
        const long long up_delay = up_delay_model_samples(host_rate_, model_rate_) * host_rate_;
        const long long down_delay = static_cast<long long>(latency_) * model_rate_ - up_delay - model_latency * host_rate_;
        model_chunk_ = static_cast<int>(ceil_div(static_cast<long long>(max_block_) * model_rate_, host_rate_)) + 4;
        up_.resize(static_cast<size_t>(channels_));
        down_.resize(static_cast<size_t>(channels_));
        for (int ch = 0; ch < channels_; ++ch) {
            up_[static_cast<size_t>(ch)].configure(host_rate_, model_rate_, up_delay, max_block_);
            down_[static_cast<size_t>(ch)].configure(model_rate_, host_rate_, down_delay, model_chunk_);
        }
        model_->prepare(channels_, model_chunk_);
        const int model_capacity = up_[0].max_output_for(max_block_);
        model_buffer_.assign(static_cast<size_t>(channels_), std::vector<float>(static_cast<size_t>(model_capacity)));
        model_pointers_.resize(static_cast<size_t>(channels_));
        for (int ch = 0; ch < channels_; ++ch) model_pointers_[static_cast<size_t>(ch)] = model_buffer_[static_cast<size_t>(ch)].data();
        fifo_capacity_ = down_[0].max_output_for(model_capacity) + max_block_ + 8;
        fifo_.assign(static_cast<size_t>(channels_), std::vector<float>(static_cast<size_t>(fifo_capacity_)));
        silence_.assign(static_cast<size_t>(max_block_), 0.0f);
        // Nothing to reset: prepare() left the model settled, configure() the resamplers empty,
        // and the FIFO starts empty (a reset() here settled the model a second time).
    }

    static bool whole_hz(double rate) { return std::fabs(rate - static_cast<double>(std::lround(rate))) <= 1e-6; }
    static bool rate_in_range(long rate) { return rate >= kMinSampleRate && rate <= kMaxSampleRate; }
    // Whether the constructor takes this pair of rates: both whole numbers of Hz and in range, and
    // a conversion within the resampler's limits both ways. For a caller that needs the answer
    // without building one (the plugin's latency for a host rate).
    static bool supports(double host_rate, double model_rate) { return refusal(host_rate, model_rate).empty(); }

    // Why the constructor refuses this pair of rates, as its message; "" where it takes them.
    static std::string refusal(double host_rate, double model_rate) {
        if (!whole_hz(host_rate) || !whole_hz(model_rate))
            return "sample rates must be whole numbers of Hz (host " + std::to_string(host_rate) + ", model " +
                   std::to_string(model_rate) + ")";
        const long host = std::lround(host_rate), model = std::lround(model_rate);
        for (const long rate : {host, model})
            if (!rate_in_range(rate))  // 0 Hz divided by zero in half_taps_for
                return std::string(rate == host ? "host" : "model") + " sample rate " + std::to_string(rate) +
                       " Hz is outside " + sample_rate_range_text();
        if (host == model) return "";
        const std::string up = StreamResampler::refusal(host, model);
        return up.empty() ? StreamResampler::refusal(model, host) : up;
    }

    // The latency a HostRateModel will have, without building one. Stage 1 delays by a whole
    // number of model samples (up_delay_model_samples). Stage 2 must delay by at least h_down
    // model samples plus the model's own latency to be causal; the sum rounded up to whole host
    // samples is the reported latency.
    static int latency_for(long host_rate, long model_rate, int model_latency) {
        if (host_rate == model_rate || host_rate <= 0 || model_rate <= 0) return model_latency;
        const int h_down = StreamResampler::half_taps_for(model_rate, host_rate);
        return static_cast<int>(ceil_div(
            (up_delay_model_samples(host_rate, model_rate) + h_down + model_latency) * host_rate, model_rate));
    }

    // Stage 1's delay: the h_up host samples that make it causal, rounded up to whole model
    // samples. The model then runs on the samples the delay-free conversion of the Python path
    // (neuralfx.resampling) gives it, only later: on a grid a fraction of a sample off, a
    // distorting model aliases differently, and crunch_amp at 44.1 kHz differed from the Python
    // path by -29 dB.
    static long long up_delay_model_samples(long host_rate, long model_rate) {
        return ceil_div(static_cast<long long>(StreamResampler::half_taps_for(host_rate, model_rate)) * model_rate,
                        host_rate);
    }

    Model& model() { return *model_; }
    const Model& model() const { return *model_; }
    bool resampling() const { return resampling_; }
    int latency_samples() const { return latency_; }
    int channels() const { return channels_; }
    long host_rate() const { return host_rate_; }
    // Times the output ran ahead of what the resamplers had produced; stays 0 by construction.
    long long underruns() const { return underruns_.load(std::memory_order_relaxed); }

    void reset() {
        model_->reset();
        for (auto& r : up_) r.reset();
        for (auto& r : down_) r.reset();
        fifo_count_ = 0;
    }

    // Real-time safe. In place, any n; num_channels <= channels(). When resampling, a channel the
    // host leaves out of a block runs on silence: the counts below are shared by all channels, so
    // a resampler left behind put the other channel's output out of step for good.
    // Returns false, touching nothing, for more channels than constructed (processing some of
    // them would leave the rest dry and out of step) or when the model was re-prepared through
    // model() for fewer channels.
    bool process(float* const* audio, int num_channels, int n) {
        if (num_channels > channels_ || model_->prepared_channels() < channels_) return false;
        if (!resampling_) return model_->process(audio, num_channels, n);
        for (int start = 0; start < n; start += max_block_) {
            const int len = std::min(max_block_, n - start);
            int model_count = 0;
            for (int ch = 0; ch < channels_; ++ch) {
                auto& buf = model_buffer_[static_cast<size_t>(ch)];
                const float* in = ch < num_channels ? audio[ch] + start : silence_.data();
                // Every channel's resampler does the same index arithmetic, so the counts agree.
                model_count = up_[static_cast<size_t>(ch)].process(in, len, buf.data(), static_cast<int>(buf.size()));
            }
            model_->process(model_pointers_.data(), channels_, model_count);
            int produced = 0;
            for (int ch = 0; ch < channels_; ++ch) {
                auto& fifo = fifo_[static_cast<size_t>(ch)];
                produced = down_[static_cast<size_t>(ch)].process(model_pointers_[static_cast<size_t>(ch)], model_count,
                                                                  fifo.data() + fifo_count_, fifo_capacity_ - fifo_count_);
            }
            const int available = fifo_count_ + produced;
            const int emit = std::min(available, len);
            if (emit < len) underruns_.fetch_add(1, std::memory_order_relaxed);
            for (int ch = 0; ch < channels_; ++ch) {
                auto& fifo = fifo_[static_cast<size_t>(ch)];
                if (ch < num_channels) {
                    float* out = audio[ch] + start;
                    std::memcpy(out, fifo.data(), sizeof(float) * static_cast<size_t>(emit));
                    std::fill(out + emit, out + len, 0.0f);
                }
                std::memmove(fifo.data(), fifo.data() + emit, sizeof(float) * static_cast<size_t>(available - emit));
            }
            fifo_count_ = available - emit;
        }
        return true;
    }

private:
    static std::unique_ptr<Model> checked(std::unique_ptr<Model>&& model, double host_rate) {
        const std::string refused = refusal(host_rate, model->sample_rate());
        if (!refused.empty()) throw UnsupportedRateError(refused);
        return std::move(model);
    }

    std::unique_ptr<Model> model_;
    int channels_;
    int max_block_;
    long host_rate_ = 0, model_rate_ = 0;
    bool resampling_ = false;
    int latency_ = 0;
    int model_chunk_ = 0;
    std::vector<StreamResampler> up_, down_;
    std::vector<std::vector<float>> model_buffer_;
    std::vector<float*> model_pointers_;
    std::vector<std::vector<float>> fifo_;
    std::vector<float> silence_;  // the input of a channel the host left out of a block
    int fifo_capacity_ = 0;
    int fifo_count_ = 0;
    std::atomic<long long> underruns_{0};  // read from any thread
};

}  // namespace neuralfx
