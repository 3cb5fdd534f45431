#pragma once
// DryWet: y = (1 - mix) * x + mix * inner(x), in double, rounded to float once. Twin of
// neuralfx/dsp/drywet.py (which documents the file layout: inner blocks in config "blocks",
// their weights under "blocks.<i>."). The dry path is not delayed; the loader rejects inner
// blocks that report latency.

#include <algorithm>
#include <memory>
#include <vector>

#include "../block.hpp"
#include "params.hpp"

namespace neuralfx::dsp {

// Shared with Delay: the same expression, in this order, on both sides.
inline double dry_wet(double dry, double wet, double mix) { return (1.0 - mix) * dry + mix * wet; }

class DryWet final : public Block {
public:
    DryWet(Param mix, std::vector<std::unique_ptr<Block>> inner) : mix_(mix), inner_(std::move(inner)) {}

    DryWet(const DryWet& other) : Block(), mix_(other.mix_) {
        for (const auto& b : other.inner_) inner_.push_back(b->clone());
    }

    void prepare(int max_block_size) override {
        dry_.assign(static_cast<size_t>(std::max(max_block_size, 1)), 0.0f);
        for (auto& b : inner_) b->prepare(max_block_size);
    }

    void reset() override {
        for (auto& b : inner_) b->reset();
    }
    void save_state() override {
        for (auto& b : inner_) b->save_state();
    }
    void restore_state() override {
        for (auto& b : inner_) b->restore_state();
    }

    void process(float* audio, int n, KnobBuffers knobs) override {
        if (static_cast<size_t>(n) > dry_.size()) return;  // not prepared for this size: a host bug
        std::copy(audio, audio + n, dry_.begin());
        for (auto& b : inner_) b->process(audio, n, knobs);
        for (int i = 0; i < n; ++i)
            audio[i] = static_cast<float>(
                dry_wet(static_cast<double>(dry_[static_cast<size_t>(i)]), static_cast<double>(audio[i]), mix_.at(knobs, i)));
    }

    std::unique_ptr<Block> clone() const override { return std::make_unique<DryWet>(*this); }

    int latency_samples() const override {
        int total = 0;
        for (const auto& b : inner_) total += b->latency_samples();
        return total;
    }
    double tail_samples() const override {
        if (!mix_.bound() && mix_.value == 0.0) return 0.0;  // the output is the dry input
        double total = 0.0;
        for (const auto& b : inner_) total += b->tail_samples();
        return total;
    }

private:
    Param mix_;
    std::vector<std::unique_ptr<Block>> inner_;
    std::vector<float> dry_;
};

}  // namespace neuralfx::dsp
