#pragma once
// Noise gate as a downward expander with a range floor. Twin of neuralfx/dsp/noise_gate.py
// (static curve there); detector and ballistics in dynamics.hpp.

#include <algorithm>
#include <memory>

#include "../block.hpp"
#include "dynamics.hpp"
#include "params.hpp"

namespace neuralfx::dsp {

// Gain in dB, in [range_db, 0], for a level in dB: threshold t, expansion ratio r.
inline double gate_gain_db(double level_db, double t, double r, double range_db) {
    const double below = std::min(level_db - t, 0.0);
    return std::max((r - 1.0) * below, range_db);
}

class NoiseGate final : public Block {
public:
    NoiseGate(LevelDetector detector, GainSmoother smoother, Param threshold_db, Param ratio, Param range_db)
        : detector_(detector), smoother_(smoother), threshold_db_(threshold_db), ratio_(ratio), range_db_(range_db) {
        reset();
    }

    void prepare(int) override { reset(); }
    void reset() override {
        detector_.reset();
        smoother_.reset();
    }

    void process(float* audio, int n, KnobBuffers knobs) override {
        for (int i = 0; i < n; ++i) {
            const double x = static_cast<double>(audio[i]);
            const double level = detector_.level_db(x);
            const double gain_db =
                gate_gain_db(level, threshold_db_.at(knobs, i), ratio_.at(knobs, i), range_db_.at(knobs, i));
            const double g = smoother_.tick(std::pow(10.0, gain_db / 20.0), knobs, i);
            audio[i] = static_cast<float>(x * g);
        }
    }

    std::unique_ptr<Block> clone() const override {
        auto copy = std::make_unique<NoiseGate>(*this);
        copy->reset();
        return copy;
    }

private:
    LevelDetector detector_;
    GainSmoother smoother_;
    Param threshold_db_, ratio_, range_db_;
};

}  // namespace neuralfx::dsp
