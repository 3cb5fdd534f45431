#pragma once
// The one interface every block of a model implements, DSP and neural alike.

#include <memory>

namespace neuralfx {

// Per-sample knob values for the current chunk: knobs[k][i] is knob k at sample i,
// normalized to 0..1 and already smoothed by the Model.
using KnobBuffers = const float* const*;

class Block {
public:
    virtual ~Block() = default;

    // Off the audio thread: all allocation happens here. After prepare(n), process() may be
    // called with any count <= n.
    virtual void prepare(int max_block_size) = 0;

    // Clears the signal state (recurrent state, filter memories, delay lines).
    virtual void reset() = 0;

    // The signal state reset() clears, kept aside and put back: the Model settles each channel
    // once, saves, and a later reset at the same knob values copies it back instead of settling
    // again. Real-time safe: prepare() (or the constructor) sizes the copy.
    virtual void save_state() = 0;
    virtual void restore_state() = 0;

    // Real-time safe: no allocation, locks, exceptions or I/O. Mono, in place.
    virtual void process(float* audio, int num_samples, KnobBuffers knobs) = 0;

    // Real-time safe. Processes channel a with this block and channel b with `other` (the
    // other channel's clone of the same block) together, when the block can interleave two
    // channels (recurrent layers: both in one loop, sharing weight loads and filling the
    // pipeline). Returns false, touching nothing, when it cannot: the caller then processes
    // the two channels one by one. The output is bit-identical to process() on each channel.
    virtual bool process_pair(Block& other, float* a, float* b, int num_samples, KnobBuffers knobs) {
        (void)other, (void)a, (void)b, (void)num_samples, (void)knobs;
        return false;
    }

    // A fresh block with the same parameters and cleared state (one per audio channel).
    virtual std::unique_ptr<Block> clone() const = 0;

    virtual int latency_samples() const { return 0; }

    // Samples the output goes on after the input falls silent (beyond the latency), at the
    // longest any knob setting makes it; infinity where it never ends. What a host is told as the
    // plugin's tail, so that it does not stop calling it while echoes still sound. 0 for blocks
    // whose memory is short: filters, dynamics, and the networks (an amp's decay, a WaveNet's
    // receptive field of at most a few thousand samples). Summed over a chain, it is an estimate
    // where strong feedback loops follow each other: two 10 ms Delays at feedback 0.99 in series
    // sum to 13.76 s, and their combined echoes stay above -60 dB for 14.1 s.
    virtual double tail_samples() const { return 0.0; }

    // Multiply-adds per sample of one channel by the block's weights: one per entry of its linear
    // maps (gate matrices, convolution taps, 1x1s, mixins, heads, FiLM's linear layer). Work any
    // implementation of the block must do, so the bench can set it against the CPU's measured
    // multiply-add rate; activations, biases and DSP blocks (a handful of operations per sample,
    // no weight matrix) count 0, so the floor it gives is a lower bound.
    virtual long long multiply_adds_per_sample() const { return 0; }
};

}  // namespace neuralfx
