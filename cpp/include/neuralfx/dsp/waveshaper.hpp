#pragma once
// Waveshaper: y = post(curve(drive * pre(x) + bias) - curve(bias)), in double, rounded to float
// once at the output. Twin of neuralfx/dsp/waveshaper.py (which documents the curves).

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

#include "../block.hpp"
#include "biquad.hpp"
#include "params.hpp"

namespace neuralfx::dsp {

enum class Curve { tanh, arctan, softclip, hardclip };

inline double shape(double u, Curve curve) {
    constexpr double kPi = 3.14159265358979323846;
    switch (curve) {
        case Curve::tanh:
            return std::tanh(u);
        case Curve::arctan:
            return (2.0 / kPi) * std::atan((kPi / 2.0) * u);
        case Curve::softclip: {
            const double c = std::clamp(u, -1.0, 1.0);
            return 1.5 * c - 0.5 * c * c * c;
        }
        case Curve::hardclip:
            return std::clamp(u, -1.0, 1.0);
    }
    return u;
}

class Waveshaper final : public Block {
public:
    Waveshaper(Curve curve, Param drive_db, Param bias, std::optional<BiquadFilter> pre,
               std::optional<BiquadFilter> post)
        : curve_(curve), drive_db_(drive_db), bias_(bias), pre_(pre), post_(post), saved_pre_(pre), saved_post_(post) {
        update_drive(drive_db_.value);
        update_bias(bias_.value);
        reset();
    }

    void prepare(int) override { reset(); }
    void reset() override {
        if (pre_) pre_->reset();
        if (post_) post_->reset();
    }
    void save_state() override { saved_pre_ = pre_, saved_post_ = post_; }
    void restore_state() override { pre_ = saved_pre_, post_ = saved_post_; }

    void process(float* audio, int n, KnobBuffers knobs) override {
        for (int i = 0; i < n; ++i) {
            if (drive_db_.bound()) {
                const double d = drive_db_.at(knobs, i);
                if (d != drive_db_value_) update_drive(d);
            }
            if (bias_.bound()) {
                const double b = bias_.at(knobs, i);
                if (b != bias_value_) update_bias(b);
            }
            double y = static_cast<double>(audio[i]);
            if (pre_) y = pre_->tick(y, knobs, i);
            y = shape(drive_ * y + bias_value_, curve_) - shaped_bias_;
            if (post_) y = post_->tick(y, knobs, i);
            audio[i] = static_cast<float>(y);
        }
    }

    std::unique_ptr<Block> clone() const override {
        auto copy = std::make_unique<Waveshaper>(*this);
        copy->reset();
        return copy;
    }

private:
    void update_drive(double d) {
        drive_db_value_ = d;
        drive_ = std::pow(10.0, d / 20.0);
    }
    void update_bias(double b) {
        bias_value_ = b;
        shaped_bias_ = shape(b, curve_);
    }

    Curve curve_;
    Param drive_db_, bias_;
    std::optional<BiquadFilter> pre_, post_, saved_pre_, saved_post_;
    double drive_db_value_ = 0.0, drive_ = 1.0;
    double bias_value_ = 0.0, shaped_bias_ = 0.0;
};

}  // namespace neuralfx::dsp
