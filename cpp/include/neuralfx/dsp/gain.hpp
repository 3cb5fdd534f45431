#pragma once
// Gain in dB. Twin of neuralfx/dsp/gain.py: the factor 10^(dB/20) is computed in double,
// rounded to float, and applied with one float multiply per sample.

#include <cmath>
#include <memory>

#include "../block.hpp"
#include "params.hpp"

namespace neuralfx::dsp {

class Gain final : public Block {
public:
    explicit Gain(Param gain_db) : gain_db_(gain_db) { update(gain_db_.value); }

    void prepare(int) override {}
    void reset() override {}
    void save_state() override {}  // no signal state
    void restore_state() override {}

    void process(float* audio, int n, KnobBuffers knobs) override {
        if (!gain_db_.bound()) {
            for (int i = 0; i < n; ++i) audio[i] *= factor_;
            return;
        }
        for (int i = 0; i < n; ++i) {
            const double g = gain_db_.at(knobs, i);
            if (g != last_db_) update(g);  // pow only while the knob is moving
            audio[i] *= factor_;
        }
    }

    std::unique_ptr<Block> clone() const override { return std::make_unique<Gain>(*this); }

private:
    void update(double g) {
        last_db_ = g;
        factor_ = static_cast<float>(std::pow(10.0, g / 20.0));
    }

    Param gain_db_;
    double last_db_ = 0.0;
    float factor_ = 1.0f;
};

}  // namespace neuralfx::dsp
