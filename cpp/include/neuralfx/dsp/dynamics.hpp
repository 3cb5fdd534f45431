#pragma once
// What Compressor and NoiseGate share: the level detector and the attack/release ballistics.
// Twin of neuralfx/dsp/dynamics.py (which documents the design, both smoothings, and cites its
// sources); every formula below is written in the same order of operations as the torch side,
// in double.

#include <algorithm>
#include <cmath>
#include <memory>

#include "../block.hpp"
#include "params.hpp"

namespace neuralfx::dsp {

enum class Detector { peak, rms };

// Where the ballistics act (dynamics.py: SMOOTHINGS): on the static curve's linear gain, or on
// the detector's measure before the static curve reads it (JUCE's and Pedalboard's Compressor).
enum class Smoothing { gain, level };

// One-pole coefficient for a time constant in ms (dynamics.py: time_coefficient).
inline double time_coefficient(double ms, double sample_rate) { return 1.0 - std::exp(-1000.0 / (ms * sample_rate)); }

// Each sample's level as an amplitude (|x|, or the root of a running mean square whose one-pole
// takes the attack coefficient while x^2 is above it) and that level in dB; silence reads as the
// -200 dB floor. time_coefficient(0) is 1: a 0 ms attack follows a rise at once.
class LevelDetector {
public:
    LevelDetector(Detector detector, double rms_attack_ms, double rms_ms, double sample_rate)
        : detector_(detector),
          rms_attack_(time_coefficient(rms_attack_ms, sample_rate)),
          rms_release_(time_coefficient(rms_ms, sample_rate)) {}

    void reset() { mean_square_ = 0.0; }

    double amplitude(double x) {
        if (detector_ == Detector::peak) return std::abs(x);
        const double power = x * x;
        const double c = power > mean_square_ ? rms_attack_ : rms_release_;
        mean_square_ = c * power - (c - 1.0) * mean_square_;
        return std::sqrt(std::max(mean_square_, kFloor * kFloor));
    }

    static double level_db(double amplitude) { return 20.0 * std::log10(std::max(amplitude, kFloor)); }

private:
    static constexpr double kFloor = 1e-10;
    Detector detector_;
    double rms_attack_, rms_release_;
    double mean_square_ = 0.0;
};

// Attack/release one-pole smoothing (dynamics.py: ballistics): the attack coefficient while the
// target is below the current value (`falling`: a compressor's gain) or above it (a gate's gain,
// any level), release otherwise. Starts at `initial` after reset.
class Ballistics {
public:
    Ballistics(Param attack_ms, Param release_ms, double sample_rate, bool falling, double initial)
        : attack_ms_(attack_ms), release_ms_(release_ms), sample_rate_(sample_rate), falling_(falling),
          initial_(initial) {
        set_attack(attack_ms_.value);
        set_release(release_ms_.value);
        reset();
    }

    void reset() { value_ = initial_; }

    double tick(double target, KnobBuffers knobs, int i) {
        if (attack_ms_.bound()) {
            const double ms = attack_ms_.at(knobs, i);
            if (ms != attack_value_) set_attack(ms);  // exp only while the knob moves
        }
        if (release_ms_.bound()) {
            const double ms = release_ms_.at(knobs, i);
            if (ms != release_value_) set_release(ms);
        }
        const bool attack = falling_ ? target < value_ : target > value_;
        const double c = attack ? attack_ : release_;
        value_ = c * target - (c - 1.0) * value_;
        return value_;
    }

private:
    void set_attack(double ms) {
        attack_value_ = ms;
        attack_ = time_coefficient(ms, sample_rate_);
    }
    void set_release(double ms) {
        release_value_ = ms;
        release_ = time_coefficient(ms, sample_rate_);
    }

    Param attack_ms_, release_ms_;
    double sample_rate_;
    bool falling_;
    double initial_;
    double attack_value_ = 0.0, release_value_ = 0.0;
    double attack_ = 1.0, release_ = 1.0;
    double value_ = 0.0;
};

// 10^(dB/20) in double, recomputed only when the value moves (a make-up gain).
class DbFactor {
public:
    explicit DbFactor(Param gain_db) : gain_db_(gain_db) { set(gain_db_.value); }

    double at(KnobBuffers knobs, int i) {
        if (gain_db_.bound()) {
            const double g = gain_db_.at(knobs, i);
            if (g != value_) set(g);
        }
        return factor_;
    }

private:
    void set(double g) {
        value_ = g;
        factor_ = std::pow(10.0, g / 20.0);
    }

    Param gain_db_;
    double value_ = 0.0, factor_ = 1.0;
};

// The block both share (dynamics.py's DynamicsBlock): per sample, the detector's amplitude, then
// either Derived's static curve in dB (static_gain_db) as a linear gain that is smoothed
// (Smoothing::gain, attack while the gain moves in Derived::falling's direction, from rest: a
// compressor's unity, a gate closed at 0, which dynamics.py says why), or
// the amplitude smoothed (attack while it rises, from silence) and the static curve's gain for it
// (Smoothing::level); then Derived's output (a make-up gain, or none): output(x * gain).
template <class Derived>
class DynamicsBlock : public Block {
public:
    DynamicsBlock(LevelDetector detector, Smoothing smoothing, Param attack_ms, Param release_ms, double sample_rate)
        : detector_(detector),
          smoothing_(smoothing),
          smoother_(attack_ms, release_ms, sample_rate, smoothing == Smoothing::gain ? Derived::falling : false,
                    smoothing == Smoothing::gain && Derived::falling ? 1.0 : 0.0),
          saved_detector_(detector_),
          saved_smoother_(smoother_) {}

    void prepare(int) override { reset(); }
    void reset() override {
        detector_.reset();
        smoother_.reset();
    }
    void save_state() override { saved_detector_ = detector_, saved_smoother_ = smoother_; }
    void restore_state() override { detector_ = saved_detector_, smoother_ = saved_smoother_; }

    void process(float* audio, int n, KnobBuffers knobs) override {
        Derived& self = static_cast<Derived&>(*this);
        for (int i = 0; i < n; ++i) {
            const double x = static_cast<double>(audio[i]);
            const double amplitude = detector_.amplitude(x);
            double g;
            if (smoothing_ == Smoothing::gain) {
                const double gain_db = self.static_gain_db(LevelDetector::level_db(amplitude), knobs, i);
                g = smoother_.tick(std::pow(10.0, gain_db / 20.0), knobs, i);
            } else {
                const double envelope = smoother_.tick(amplitude, knobs, i);
                g = std::pow(10.0, self.static_gain_db(LevelDetector::level_db(envelope), knobs, i) / 20.0);
            }
            audio[i] = static_cast<float>(self.output(x * g, knobs, i));
        }
    }

    std::unique_ptr<Block> clone() const override {
        auto copy = std::make_unique<Derived>(static_cast<const Derived&>(*this));
        copy->reset();
        return copy;
    }

private:
    LevelDetector detector_;
    Smoothing smoothing_;
    Ballistics smoother_;
    LevelDetector saved_detector_;
    Ballistics saved_smoother_;
};

}  // namespace neuralfx::dsp
