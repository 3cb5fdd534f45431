#pragma once
// Feed-forward dynamic range compressor with a soft knee. Twin of neuralfx/dsp/compressor.py
// (static curve and citation there); detector and ballistics in dynamics.hpp.


#include "../block.hpp"
#include "dynamics.hpp"
#include "params.hpp"

namespace neuralfx::dsp {

// Gain in dB (<= 0) for a level in dB: threshold t, ratio r, knee width w (dB).
inline double compressor_gain_db(double level_db, double t, double r, double w) {
    const double d = level_db - t;
    const double slope = 1.0 / r - 1.0;
    if (2.0 * d <= -w) return 0.0;  // below the knee (and d = 0 with no knee)
    if (2.0 * d >= w) return slope * d;
    const double e = d + w / 2.0;
    return slope * (e * e) / (2.0 * w);
}

class Compressor final : public DynamicsBlock<Compressor> {
public:
    static constexpr bool falling = true;  // attack while the gain goes down (the level rose)

    Compressor(LevelDetector detector, Smoothing smoothing, Param attack_ms, Param release_ms, double sample_rate,
               Param threshold_db, Param ratio, Param knee_db, Param makeup_db)
        : DynamicsBlock(detector, smoothing, attack_ms, release_ms, sample_rate), threshold_db_(threshold_db), ratio_(ratio), knee_db_(knee_db),
          makeup_(makeup_db) {}

    double static_gain_db(double level_db, KnobBuffers knobs, int i) const {
        return compressor_gain_db(level_db, threshold_db_.at(knobs, i), ratio_.at(knobs, i), knee_db_.at(knobs, i));
    }
    double output(double y, KnobBuffers knobs, int i) { return y * makeup_.at(knobs, i); }

private:
    Param threshold_db_, ratio_, knee_db_;
    DbFactor makeup_;
};

}  // namespace neuralfx::dsp
