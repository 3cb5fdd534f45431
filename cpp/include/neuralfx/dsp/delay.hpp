#pragma once
// Feedback delay with a fractional, movable delay time. Twin of neuralfx/dsp/delay.py (which
// documents the choices). Per sample, in double: D = delay_ms * rate / 1000, k = floor(D),
// f = D - k; d = (1 - f) w[n-k] + f w[n-k-1]; w[n] = x + feedback d; y = dry_wet(x, d, mix).
// The line holds max_delay_ms of history and is allocated in prepare().

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "../block.hpp"
#include "drywet.hpp"
#include "params.hpp"

namespace neuralfx::dsp {

class Delay final : public Block {
public:
    Delay(double sample_rate, double max_delay_ms, Param delay_ms, Param feedback, Param mix)
        : rate_(sample_rate), delay_ms_(delay_ms), feedback_(feedback), mix_(mix),
          length_(static_cast<int>(line_length(max_delay_ms, sample_rate))) {}

    // Samples of history the line keeps: reads reach floor(D_max) + 1 samples back (delay.py's
    // line_length). The model reader sums it over a model's Delays (kMaxDelayLineSamples).
    static long long line_length(double max_delay_ms, double sample_rate) {
        return static_cast<long long>(std::floor(max_delay_ms * sample_rate / 1000.0)) + 2;
    }

    // A copy starts with an empty line; prepare() allocates it.
    Delay(const Delay& other)
        : Block(), rate_(other.rate_), delay_ms_(other.delay_ms_), feedback_(other.feedback_), mix_(other.mix_),
          length_(other.length_) {}

    void prepare(int) override {
        line_.assign(static_cast<size_t>(length_), 0.0);
        saved_line_.assign(static_cast<size_t>(length_), 0.0);
        write_ = saved_write_ = 0;
    }

    void reset() override {
        std::fill(line_.begin(), line_.end(), 0.0);
        write_ = 0;
    }
    void save_state() override {
        std::copy(line_.begin(), line_.end(), saved_line_.begin());
        saved_write_ = write_;
    }
    void restore_state() override {
        std::copy(saved_line_.begin(), saved_line_.end(), line_.begin());
        write_ = saved_write_;
    }

    void process(float* audio, int n, KnobBuffers knobs) override {
        if (line_.empty()) return;  // not prepared: a host bug; leave the audio as it is
        double* line = line_.data();
        for (int i = 0; i < n; ++i) {
            const double x = static_cast<double>(audio[i]);
            const double delay = delay_ms_.at(knobs, i) * rate_ / 1000.0;
            const double whole = std::floor(delay);
            const double f = delay - whole;
            const int k = static_cast<int>(whole);  // 1 <= k <= length_ - 2 by the parameter range
            int near = write_ - k;
            if (near < 0) near += length_;
            const int far = near == 0 ? length_ - 1 : near - 1;
            const double d = (1.0 - f) * line[near] + f * line[far];
            line[write_] = x + feedback_.at(knobs, i) * d;
            if (++write_ == length_) write_ = 0;
            audio[i] = static_cast<float>(dry_wet(x, d, mix_.at(knobs, i)));
        }
    }

    std::unique_ptr<Block> clone() const override { return std::make_unique<Delay>(*this); }

    // The echoes until they fall 60 dB (a reverb's RT60), at the longest time and the strongest
    // feedback the parameters allow: each repeat is the last one times the feedback. None at a
    // fixed mix of 0 (the output is the dry input).
    double tail_samples() const override {
        if (!mix_.bound() && mix_.value == 0.0) return 0.0;
        const double time = (delay_ms_.bound() ? delay_ms_.maximum : delay_ms_.value) * rate_ / 1000.0;
        const double feedback = std::fabs(feedback_.bound() ? feedback_.maximum : feedback_.value);
        if (!(feedback > 0.0)) return time;
        if (feedback >= 1.0) return std::numeric_limits<double>::infinity();
        return time * std::ceil(std::log(1e-3) / std::log(feedback));
    }

private:
    double rate_;
    Param delay_ms_, feedback_, mix_;
    int length_;
    std::vector<double> line_, saved_line_;
    int write_ = 0, saved_write_ = 0;
};

}  // namespace neuralfx::dsp
