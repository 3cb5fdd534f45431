#pragma once
// Second-order IIR filters after Robert Bristow-Johnson's "Cookbook formulae for audio EQ
// biquad filter coefficients" (RBJ Audio EQ Cookbook, https://www.w3.org/TR/audio-eq-cookbook/).
// Twin of neuralfx/dsp/biquad.py: coefficients and Direct Form I state in double (at 20 Hz the
// poles sit ~1e-3 from the unit circle, where float state would drift past the parity contract).

#include <cmath>
#include <memory>

#include "../block.hpp"
#include "params.hpp"

namespace neuralfx::dsp {

// lowpass1/highpass1: first order (bilinear with prewarp, K = tan(w0/2)), q ignored: the design
// of Pedalboard's (JUCE's) LowpassFilter/HighpassFilter.
enum class BiquadMode { lowpass, highpass, bandpass, notch, peak, lowshelf, highshelf, lowpass1, highpass1 };

struct BiquadCoefficients {
    double b0 = 1.0, b1 = 0.0, b2 = 0.0, a1 = 0.0, a2 = 0.0;  // divided by a0
};

// The cookbook's formulas with A = 10^(gain_db/40), w0 = 2 pi f / fs, alpha = sin(w0) / (2 Q).
inline BiquadCoefficients rbj_coefficients(BiquadMode mode, double sample_rate, double frequency, double gain_db,
                                           double q) {
    constexpr double kPi = 3.14159265358979323846;
    const double w0 = 2.0 * kPi * frequency / sample_rate;
    const double cw = std::cos(w0), sw = std::sin(w0);
    const double alpha = sw / (2.0 * q);
    double b0 = 1.0, b1 = 0.0, b2 = 0.0, a0 = 1.0, a1 = 0.0, a2 = 0.0;
    switch (mode) {
        case BiquadMode::lowpass1:
        case BiquadMode::highpass1: {
            const double k = std::tan(w0 / 2.0);
            b0 = mode == BiquadMode::lowpass1 ? k : 1.0;
            b1 = mode == BiquadMode::lowpass1 ? k : -1.0;
            return {b0 / (1.0 + k), b1 / (1.0 + k), 0.0, (k - 1.0) / (k + 1.0), 0.0};
        }
        case BiquadMode::lowpass:
            b0 = (1.0 - cw) / 2.0, b1 = 1.0 - cw, b2 = (1.0 - cw) / 2.0;
            a0 = 1.0 + alpha, a1 = -2.0 * cw, a2 = 1.0 - alpha;
            break;
        case BiquadMode::highpass:
            b0 = (1.0 + cw) / 2.0, b1 = -(1.0 + cw), b2 = (1.0 + cw) / 2.0;
            a0 = 1.0 + alpha, a1 = -2.0 * cw, a2 = 1.0 - alpha;
            break;
        case BiquadMode::bandpass:  // constant 0 dB peak gain
            b0 = alpha, b1 = 0.0, b2 = -alpha;
            a0 = 1.0 + alpha, a1 = -2.0 * cw, a2 = 1.0 - alpha;
            break;
        case BiquadMode::notch:
            b0 = 1.0, b1 = -2.0 * cw, b2 = 1.0;
            a0 = 1.0 + alpha, a1 = -2.0 * cw, a2 = 1.0 - alpha;
            break;
        case BiquadMode::peak: {
            const double A = std::pow(10.0, gain_db / 40.0);
            b0 = 1.0 + alpha * A, b1 = -2.0 * cw, b2 = 1.0 - alpha * A;
            a0 = 1.0 + alpha / A, a1 = -2.0 * cw, a2 = 1.0 - alpha / A;
            break;
        }
        case BiquadMode::lowshelf: {
            const double A = std::pow(10.0, gain_db / 40.0);
            const double k = 2.0 * std::sqrt(A) * alpha;
            b0 = A * ((A + 1.0) - (A - 1.0) * cw + k);
            b1 = 2.0 * A * ((A - 1.0) - (A + 1.0) * cw);
            b2 = A * ((A + 1.0) - (A - 1.0) * cw - k);
            a0 = (A + 1.0) + (A - 1.0) * cw + k;
            a1 = -2.0 * ((A - 1.0) + (A + 1.0) * cw);
            a2 = (A + 1.0) + (A - 1.0) * cw - k;
            break;
        }
        case BiquadMode::highshelf: {
            const double A = std::pow(10.0, gain_db / 40.0);
            const double k = 2.0 * std::sqrt(A) * alpha;
            b0 = A * ((A + 1.0) + (A - 1.0) * cw + k);
            b1 = -2.0 * A * ((A - 1.0) + (A + 1.0) * cw);
            b2 = A * ((A + 1.0) + (A - 1.0) * cw - k);
            a0 = (A + 1.0) - (A - 1.0) * cw + k;
            a1 = 2.0 * ((A - 1.0) - (A + 1.0) * cw);
            a2 = (A + 1.0) - (A - 1.0) * cw - k;
            break;
        }
    }
    return {b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0};
}

// One biquad's parameters and state, shared by Biquad, ParametricEQ bands and Waveshaper tone
// filters. Coefficients are recomputed only when a bound parameter's value changes.
class BiquadFilter {
public:
    BiquadFilter(BiquadMode mode, double sample_rate, Param frequency, Param gain_db, Param q)
        : mode_(mode), sample_rate_(sample_rate), frequency_(frequency), gain_db_(gain_db), q_(q) {
        update(frequency_.value, gain_db_.value, q_.value);
        time_varying_ = frequency_.bound() || gain_db_.bound() || q_.bound();
    }

    void reset() { x1_ = x2_ = y1_ = y2_ = 0.0; }

    // One sample; i is its index in the current chunk's knob rows.
    double tick(double x, KnobBuffers knobs, int i) {
        if (time_varying_) {
            const double f = frequency_.at(knobs, i), g = gain_db_.at(knobs, i), q = q_.at(knobs, i);
            if (f != f_ || g != g_ || q != q_value_) update(f, g, q);
        }
        const double v = c_.b0 * x + c_.b1 * x1_ + c_.b2 * x2_;
        const double y = v - c_.a1 * y1_ - c_.a2 * y2_;
        x2_ = x1_, x1_ = x;
        y2_ = y1_, y1_ = y;
        return y;
    }

private:
    void update(double f, double g, double q) {
        f_ = f, g_ = g, q_value_ = q;
        c_ = rbj_coefficients(mode_, sample_rate_, f, g, q);
    }

    BiquadMode mode_;
    double sample_rate_;
    Param frequency_, gain_db_, q_;
    bool time_varying_ = false;
    double f_ = 0.0, g_ = 0.0, q_value_ = 0.0;
    BiquadCoefficients c_;
    double x1_ = 0.0, x2_ = 0.0, y1_ = 0.0, y2_ = 0.0;
};

class Biquad final : public Block {
public:
    explicit Biquad(BiquadFilter filter) : filter_(filter), saved_(filter) { filter_.reset(); }

    void prepare(int) override { reset(); }
    void reset() override { filter_.reset(); }
    void save_state() override { saved_ = filter_; }
    void restore_state() override { filter_ = saved_; }

    void process(float* audio, int n, KnobBuffers knobs) override {
        for (int i = 0; i < n; ++i) audio[i] = static_cast<float>(filter_.tick(static_cast<double>(audio[i]), knobs, i));
    }

    std::unique_ptr<Block> clone() const override {
        auto copy = std::make_unique<Biquad>(*this);
        copy->reset();
        return copy;
    }

private:
    BiquadFilter filter_, saved_;
};

}  // namespace neuralfx::dsp
