#pragma once
// ParametricEQ: RBJ biquads in series (see biquad.hpp). Twin of neuralfx/dsp/eq.py: the signal
// stays double between bands and is rounded to float once, at the output.

#include <memory>
#include <vector>

#include "../block.hpp"
#include "biquad.hpp"

namespace neuralfx::dsp {

class ParametricEQ final : public Block {
public:
    explicit ParametricEQ(std::vector<BiquadFilter> bands) : bands_(std::move(bands)) { reset(); }

    void prepare(int) override { reset(); }
    void reset() override {
        for (auto& b : bands_) b.reset();
    }

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
};

}  // namespace neuralfx::dsp
