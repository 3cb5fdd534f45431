#pragma once
// ParametricEQ: RBJ biquads in series (see biquad.hpp). Twin of neuralfx/dsp/eq.py: the signal
// stays double between bands and is rounded to float once, at the output.

#include <algorithm>
#include <memory>
#include <vector>

#include "../block.hpp"
#include "biquad.hpp"

namespace neuralfx::dsp {

class ParametricEQ final : public Block {
public:
    explicit ParametricEQ(std::vector<BiquadFilter> bands) : bands_(std::move(bands)), saved_(bands_) { reset(); }

    void prepare(int) override { reset(); }
    void reset() override {
        for (auto& b : bands_) b.reset();
    }
    void save_state() override { std::copy(bands_.begin(), bands_.end(), saved_.begin()); }
    void restore_state() override { std::copy(saved_.begin(), saved_.end(), bands_.begin()); }

    void process(float* audio, int n, KnobBuffers knobs) override {
        for (int i = 0; i < n; ++i) {
            double y = static_cast<double>(audio[i]);
            for (auto& b : bands_) y = b.tick(y, knobs, i);
            audio[i] = static_cast<float>(y);
        }
    }

    std::unique_ptr<Block> clone() const override {
        auto copy = std::make_unique<ParametricEQ>(*this);
        copy->reset();
        return copy;
    }

private:
    std::vector<BiquadFilter> bands_;
    std::vector<BiquadFilter> saved_;  // as many as bands_: copies without allocating
};

}  // namespace neuralfx::dsp
