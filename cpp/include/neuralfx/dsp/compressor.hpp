#pragma once
// Feed-forward dynamic range compressor with a soft knee. Twin of neuralfx/dsp/compressor.py
// (static curve and citation there); detector and ballistics in dynamics.hpp.

#include <memory>

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

class Compressor final : public Block {
public:
    Compressor(LevelDetector detector, GainSmoother smoother, Param threshold_db, Param ratio, Param knee_db,
               Param makeup_db)
        : detector_(detector), smoother_(smoother), threshold_db_(threshold_db), ratio_(ratio), knee_db_(knee_db),
          makeup_(makeup_db) {
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
            const double gain_db = compressor_gain_db(level, threshold_db_.at(knobs, i), ratio_.at(knobs, i),
                                                      knee_db_.at(knobs, i));
            const double g = smoother_.tick(std::pow(10.0, gain_db / 20.0), knobs, i);
            audio[i] = static_cast<float>(x * g * makeup_.at(knobs, i));
        }
    }

    std::unique_ptr<Block> clone() const override {
        auto copy = std::make_unique<Compressor>(*this);
        copy->reset();
        return copy;
    }

private:
    LevelDetector detector_;
    GainSmoother smoother_;
    Param threshold_db_, ratio_, knee_db_;
    DbFactor makeup_;
};

}  // namespace neuralfx::dsp
