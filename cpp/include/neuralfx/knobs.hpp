#pragma once
// Named user parameters ("knobs"): set from any thread through atomics, read by the audio
// thread as per-sample smoothed, normalized (0..1) values. The smoothing law is mirrored by
// neuralfx/knobs.py so that torch and C++ agree sample for sample.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "block.hpp"

namespace neuralfx {

// t clamped to [0, 1], NaN to 0 (std::clamp would pass NaN through).
template <class T>
T clamp_unit(T t) {
    return t > T(0) ? (t < T(1) ? t : T(1)) : T(0);
}

struct KnobSpec {
    std::string name;
    float minimum = 0.0f;
    float maximum = 1.0f;
    float default_value = 0.0f;
    std::string unit;

    float normalize(float value) const {
        const float span = maximum - minimum;
        return clamp_unit(span > 0.0f ? (value - minimum) / span : 0.0f);
    }
};

// Time constant of the one-pole knob smoother (seconds); the same constant lives in knobs.py.
constexpr double kKnobSmoothingSeconds = 0.01;

inline double knob_smoothing_coefficient(double sample_rate) {
    return 1.0 - std::exp(-1.0 / (kKnobSmoothingSeconds * sample_rate));
}

class KnobBank {
public:
    void configure(const std::vector<KnobSpec>& specs, double sample_rate) {
        specs_ = specs;
        targets_ = std::vector<std::atomic<float>>(specs.size());
        values_ = std::vector<std::atomic<float>>(specs.size());
        current_.assign(specs.size(), 0.0);
        for (size_t k = 0; k < specs.size(); ++k) {
            set(static_cast<int>(k), specs[k].default_value);
            current_[k] = targets_[k].load();
        }
        coefficient_ = knob_smoothing_coefficient(sample_rate);
    }

    // Leaves the bank as it was if an allocation throws.
    void prepare(int max_block_size) {
        const size_t block = static_cast<size_t>(std::max(max_block_size, 1));
        std::vector<float> storage(specs_.size() * block, 0.0f);
        std::vector<float*> pointers(specs_.size());
        for (size_t k = 0; k < specs_.size(); ++k) pointers[k] = storage.data() + k * block;
        storage_.swap(storage);
        pointers_.swap(pointers);
    }

    // Any thread. Value in the knob's own units; clamped to its range. NaN (a host's broken
    // automation) is ignored: the knob keeps its target, instead of the smoother and every
    // recursive state downstream latching NaN. False for an index that is no knob's, which
    // changes nothing (set(knob_index("Gain"), v) with a misspelt name wrote past the knobs
    // and corrupted the heap: a review embedding the kernel).
    bool set(int index, float value) {
        if (!has(index)) return false;
        if (std::isnan(value)) return true;
        const size_t k = static_cast<size_t>(index);
        const KnobSpec& s = specs_[k];
        const float held = std::min(std::max(value, s.minimum), s.maximum);
        values_[k].store(held, std::memory_order_relaxed);
        targets_[k].store(s.normalize(held), std::memory_order_relaxed);
        return true;
    }
    // The value set, in the knob's units, not one computed back from the normalized target:
    // min + t * (max - min) in float came back above the range's top for 15 % of one-decimal
    // ranges (0.10000002 on [-0.7, 0.1]), and setting it again was refused.
    // NaN for an index that is no knob's.
    float get(int index) const {
        return has(index) ? values_[static_cast<size_t>(index)].load(std::memory_order_relaxed)
                          : std::numeric_limits<float>::quiet_NaN();
    }
    bool has(int index) const { return index >= 0 && static_cast<size_t>(index) < specs_.size(); }

    // The smoother jumps to its target: a reset means a new signal, not a parameter move.
    void reset() {
        for (size_t k = 0; k < specs_.size(); ++k) current_[k] = targets_[k].load(std::memory_order_relaxed);
    }

    // Where the smoother is, per knob (normalized): copied out, and compared with such a copy.
    void copy_values(std::vector<double>& out) const { std::copy(current_.begin(), current_.end(), out.begin()); }
    bool values_equal(const std::vector<double>& values) const {
        return std::equal(current_.begin(), current_.end(), values.begin(), values.end());
    }

    // Audio thread: rows of n samples holding every knob where the smoother is, which stays put.
    KnobBuffers hold(int n) {
        for (size_t k = 0; k < specs_.size(); ++k)
            std::fill(pointers_[k], pointers_[k] + n, static_cast<float>(current_[k]));
        return pointers_.empty() ? nullptr : pointers_.data();
    }

    // Audio thread: fills one smoothed row per knob for the next n samples. The smoother runs in
    // double: in float, value + c * (target - value) stopped moving once the step fell below half
    // a float step of the value, 1.4e-5 of the range short at 48 kHz (4x that at 192 kHz), for
    // good: a Delay time moved 500 -> 1500 ms of a 2000 ms range stayed 1.37 samples short at
    // 48 kHz, so every repeat went through the linear interpolation's low-pass (the 5th 26 dB
    // darker at 16 kHz), and a move of a few hundredths of a ms did nothing at 192 kHz (a review's
    // measurements). In double the row reaches the target's float exactly.
    KnobBuffers advance(int n) {
        for (size_t k = 0; k < specs_.size(); ++k) {
            const double target = targets_[k].load(std::memory_order_relaxed);
            double value = current_[k];
            float* row = pointers_[k];
            for (int i = 0; i < n; ++i) {
                value += coefficient_ * (target - value);
                row[i] = static_cast<float>(value);
            }
            current_[k] = value;
        }
        return pointers_.empty() ? nullptr : pointers_.data();
    }

    const std::vector<KnobSpec>& specs() const { return specs_; }

private:
    std::vector<KnobSpec> specs_;
    std::vector<std::atomic<float>> targets_;  // normalized, what the smoother glides to
    std::vector<std::atomic<float>> values_;   // in the knobs' units, as set (get)
    std::vector<double> current_;  // where the smoother is (see advance)
    std::vector<float> storage_;
    std::vector<float*> pointers_;
    double coefficient_ = 1.0;
};

}  // namespace neuralfx
