#pragma once
// Noise gate as a downward expander with a range floor. Twin of neuralfx/dsp/noise_gate.py
// (static curve there); detector and ballistics in dynamics.hpp.

#include <algorithm>

#include "../block.hpp"
#include "dynamics.hpp"
#include "params.hpp"

namespace neuralfx::dsp {

// Gain in dB, in [range_db, 0], for a level in dB: threshold t, expansion ratio r.
inline double gate_gain_db(double level_db, double t, double r, double range_db) {
    const double below = std::min(level_db - t, 0.0);
    return std::max((r - 1.0) * below, range_db);
}

class NoiseGate final : public DynamicsBlock<NoiseGate> {
public:
    static constexpr bool falling = false;  // attack while the gain goes up (the gate opens)

    NoiseGate(LevelDetector detector, Smoothing smoothing, Param attack_ms, Param release_ms, double sample_rate,
              Param threshold_db, Param ratio, Param range_db)
        : DynamicsBlock(detector, smoothing, attack_ms, release_ms, sample_rate), threshold_db_(threshold_db), ratio_(ratio), range_db_(range_db) {}

    double static_gain_db(double level_db, KnobBuffers knobs, int i) const {
        return gate_gain_db(level_db, threshold_db_.at(knobs, i), ratio_.at(knobs, i), range_db_.at(knobs, i));
    }
    double output(double y, KnobBuffers, int) const { return y; }

private:
    Param threshold_db_, ratio_, range_db_;
};

}  // namespace neuralfx::dsp
