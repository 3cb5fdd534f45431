#pragma once
// A loaded model file: its knobs, sample rate and block chain, run per channel.

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "block.hpp"
#include "denormals.hpp"
#include "knobs.hpp"

namespace neuralfx {

// Input beyond kInputLimit (+120 dBFS) is held there; NaN and infinite samples are set to 0. One
// NaN from a host (another plugin's fault) entered every recurrent, filter and delay state and
// stayed: the plugin's output was NaN in every block after it until a reset. A finite burst near
// the float32 maximum did the same through a Gain block's overflow (both found by reviews). The
// compare is false for NaN, so this is a select and a clamp per sample, vectorized. Real-time safe.
constexpr float kInputLimit = 1e6f;
inline void limit_input(float* x, int n) {
    for (int i = 0; i < n; ++i)
        x[i] = std::fabs(x[i]) <= std::numeric_limits<float>::max() ? std::min(std::max(x[i], -kInputLimit), kInputLimit)
                                                                   : 0.0f;
}

class Model {
public:
    Model(double sample_rate, std::vector<KnobSpec> knobs, std::vector<std::unique_ptr<Block>> blocks,
          std::string metadata_json)
        : sample_rate_(sample_rate), prototype_(std::move(blocks)), metadata_json_(std::move(metadata_json)) {
        knobs_.configure(knobs, sample_rate);
        settled_knobs_.assign(knobs_.specs().size(), 0.0);
    }

    double sample_rate() const { return sample_rate_; }
    const std::vector<KnobSpec>& knobs() const { return knobs_.specs(); }
    const std::string& metadata_json() const { return metadata_json_; }
    int num_blocks() const { return static_cast<int>(prototype_.size()); }

    // -1 when no knob has that name (set_knob then returns false and knob() NaN).
    int knob_index(const std::string& name) const {
        const auto& specs = knobs_.specs();
        for (size_t k = 0; k < specs.size(); ++k)
            if (specs[k].name == name) return static_cast<int>(k);
        return -1;
    }
    // Any thread (atomics). In the knob's units, clamped to its range; NaN is ignored. False,
    // changing nothing, for an index that is no knob's.
    bool set_knob(int index, float value) { return knobs_.set(index, value); }
    float knob(int index) const { return knobs_.get(index); }

    // Blocks longer than this are processed in pieces of this size. The output does not depend
    // on the block size, and per-block buffers (knob rows, a chunk's state) stay bounded whatever
    // a host or a Python buffer_size asks for.
    static constexpr int kMaxBlockSize = 1 << 16;

    // Where prepare() and reset() leave each channel: this many samples of silence run through
    // its chain, the knobs held at their targets. A model at rest on silence is not at the zero
    // state (biases, a recurrent state's fixed point): started from zero, the shipped amps
    // thumped, crunch_amp's first output sample on silence being 0.51. Twin of SETTLE_SAMPLES
    // in neuralfx/model.py, so that torch's forward starts from the same state.
    static constexpr int kSettleSamples = 8192;

    // Off the audio thread. Builds one block chain per channel, settled (kSettleSamples). All or
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
        std::vector<float> silence(static_cast<size_t>(std::max(num_channels, 0)) * static_cast<size_t>(block), 0.0f);
        std::vector<float*> silence_channels(static_cast<size_t>(std::max(num_channels, 0)));
        for (size_t ch = 0; ch < silence_channels.size(); ++ch) silence_channels[ch] = silence.data() + ch * static_cast<size_t>(block);
        knobs_.prepare(block);
        chains_.swap(chains);
        settled_ = false;
        silence_.swap(silence);  // swapping keeps the channel pointers valid
        silence_channels_.swap(silence_channels);
        max_block_size_ = block;
        reset();
    }

    int prepared_channels() const { return static_cast<int>(chains_.size()); }
    int max_block_size() const { return max_block_size_; }

    // No allocation, but not always short: at the knob values of the last settle it copies the
    // saved state back; after a knob moved it settles again (kSettleSamples of silence through
    // every channel, as long as processing that much audio: crunch_amp stereo took 2.4-10.5 ms
    // in a review's timing) and saves that. On the audio thread only where that fits.
    void reset() {
        knobs_.reset();
        if (settled_ && knobs_.values_equal(settled_knobs_)) {
            for (auto& chain : chains_)
                for (auto& b : chain) b->restore_state();
            return;
        }
        for (auto& chain : chains_)
            for (auto& b : chain) b->reset();
        settle();
        for (auto& chain : chains_)
            for (auto& b : chain) b->save_state();
        knobs_.copy_values(settled_knobs_);
        settled_ = true;
    }

    // Real-time safe. In place; any num_samples (split into prepared-size chunks). Returns
    // false, touching nothing, before prepare() or when asked for more channels than were prepared.
    // A NaN or infinite input sample is taken as 0 (silence), one beyond +-kInputLimit as the limit.
    bool process(float* const* channels, int num_channels, int num_samples) {
        if (max_block_size_ < 1 || num_channels > prepared_channels()) return false;
        ScopedFlushDenormals flush;
        for (int start = 0; start < num_samples; start += max_block_size_) {
            const int n = std::min(max_block_size_, num_samples - start);
            for (int ch = 0; ch < num_channels; ++ch) limit_input(channels[ch] + start, n);
            run_chains(channels, num_channels, start, n, knobs_.advance(n));
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

    // Block::tail_samples over the chain (each block's tail runs on through the next), in seconds:
    // how long after the input falls silent the output may still sound; infinity for never.
    double tail_seconds() const {
        double total = 0.0;
        for (const auto& b : prototype_) total += b->tail_samples();
        return total / sample_rate();
    }

private:
    // Block by block, so that two channels can share one block call (Block::process_pair);
    // each channel still passes through its chain in order, so the result is the same.
    void run_chains(float* const* channels, int num_channels, int start, int n, KnobBuffers knob_rows) {
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

    void settle() {
        if (chains_.empty()) return;
        ScopedFlushDenormals flush;
        const KnobBuffers held = knobs_.hold(max_block_size_);
        for (int done = 0; done < kSettleSamples; done += max_block_size_) {
            const int n = std::min(max_block_size_, kSettleSamples - done);
            for (float* channel : silence_channels_) std::fill(channel, channel + n, 0.0f);  // processed in place
            run_chains(silence_channels_.data(), prepared_channels(), 0, n, held);
        }
    }

    double sample_rate_;
    KnobBank knobs_;
    std::vector<std::unique_ptr<Block>> prototype_;
    std::vector<std::vector<std::unique_ptr<Block>>> chains_;
    std::vector<float> silence_;  // prepared channels x max block: settle()'s input
    std::vector<float*> silence_channels_;
    // The knob values the saved state was settled at (reset() copies it back at the same values);
    // one per knob from construction, so that a reset() before prepare() has room to write them.
    std::vector<double> settled_knobs_;
    bool settled_ = false;
    std::string metadata_json_;
    int max_block_size_ = 0;
};

}  // namespace neuralfx
