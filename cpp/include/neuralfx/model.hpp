#pragma once
// A loaded model file: its knobs, sample rate and block chain, run per channel.

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "block.hpp"
#include "denormals.hpp"
#include "knobs.hpp"

namespace neuralfx {

class Model {
public:
    Model(double sample_rate, std::vector<KnobSpec> knobs, std::vector<std::unique_ptr<Block>> blocks,
          std::string metadata_json)
        : sample_rate_(sample_rate), prototype_(std::move(blocks)), metadata_json_(std::move(metadata_json)) {
        knobs_.configure(knobs, sample_rate);
    }

    double sample_rate() const { return sample_rate_; }
    const std::vector<KnobSpec>& knobs() const { return knobs_.specs(); }
    const std::string& metadata_json() const { return metadata_json_; }
    int num_blocks() const { return static_cast<int>(prototype_.size()); }

    // -1 when no knob has that name.
    int knob_index(const std::string& name) const {
        const auto& specs = knobs_.specs();
        for (size_t k = 0; k < specs.size(); ++k)
            if (specs[k].name == name) return static_cast<int>(k);
        return -1;
    }
    void set_knob(int index, float value) { knobs_.set(index, value); }
    float knob(int index) const { return knobs_.get(index); }

    // Blocks longer than this are processed in pieces of this size. The output does not depend
    // on the block size, and per-block buffers (knob rows, a chunk's state) stay bounded whatever
    // a host or a Python buffer_size asks for.
    static constexpr int kMaxBlockSize = 1 << 16;

    // Off the audio thread. Builds one block chain per channel, each with cleared state. All or
    // nothing: if an allocation throws, the model keeps its previous preparation (a half-built
    // one let process() write past the knob rows).
    void prepare(int num_channels, int max_block_size) {
        const int block = std::clamp(max_block_size, 1, kMaxBlockSize);
        std::vector<std::vector<std::unique_ptr<Block>>> chains;
        for (int ch = 0; ch < num_channels; ++ch) {
            std::vector<std::unique_ptr<Block>> chain;
            for (const auto& b : prototype_) chain.push_back(b->clone());
            for (auto& b : chain) b->prepare(block);
            chains.push_back(std::move(chain));
        }
        knobs_.prepare(block);
        chains_.swap(chains);
        max_block_size_ = block;
        knobs_.reset();
    }

    int prepared_channels() const { return static_cast<int>(chains_.size()); }
    int max_block_size() const { return max_block_size_; }

    void reset() {
        for (auto& chain : chains_)
            for (auto& b : chain) b->reset();
        knobs_.reset();
    }

    // Real-time safe. In place; any num_samples (split into prepared-size chunks). Returns
    // false, touching nothing, before prepare() or when asked for more channels than were prepared.
    bool process(float* const* channels, int num_channels, int num_samples) {
        if (max_block_size_ < 1 || num_channels > prepared_channels()) return false;
        ScopedFlushDenormals flush;
        for (int start = 0; start < num_samples; start += max_block_size_) {
            const int n = std::min(max_block_size_, num_samples - start);
            KnobBuffers knob_rows = knobs_.advance(n);
            // Block by block, so that two channels can share one block call (Block::process_pair);
            // each channel still passes through its chain in order, so the result is the same.
            for (size_t b = 0; b < prototype_.size(); ++b) {
                for (int ch = 0; ch < num_channels;) {
                    Block& block = *chains_[static_cast<size_t>(ch)][b];
                    if (ch + 1 < num_channels &&
                        block.process_pair(*chains_[static_cast<size_t>(ch + 1)][b], channels[ch] + start,
                                           channels[ch + 1] + start, n, knob_rows)) {
                        ch += 2;
                    } else {
                        block.process(channels[ch] + start, n, knob_rows);
                        ch += 1;
                    }
                }
            }
        }
        return true;
    }

    // Block::multiply_adds_per_sample over the chain: per sample of one channel.
    long long multiply_adds_per_sample() const {
        long long total = 0;
        for (const auto& b : prototype_) total += b->multiply_adds_per_sample();
        return total;
    }

    int latency_samples() const {
        int total = 0;
        for (const auto& b : prototype_) total += b->latency_samples();
        return total;
    }

private:
    double sample_rate_;
    KnobBank knobs_;
    std::vector<std::unique_ptr<Block>> prototype_;
    std::vector<std::vector<std::unique_ptr<Block>>> chains_;
    std::string metadata_json_;
    int max_block_size_ = 0;
};

}  // namespace neuralfx
