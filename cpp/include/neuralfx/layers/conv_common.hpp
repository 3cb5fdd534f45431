#pragma once
// Pieces shared by the convolutional amp models (WaveNet, TCN); twin of neuralfx/models/conv.py.
//
// Signals between layers are stored time-major: frame t holds one layer's channels, padded with
// zeros to a multiple of 8 (the stride), so a frame is a whole number of Vec8s. A layer is
// computed as matrix products over a tile of T frames: for every input channel and tap, T
// broadcast inputs times the Vec8 columns of weights, accumulated in registers (conv_acc). The
// weights are packed column by column to match: [tap][input channel][output channel, padded].

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "../activations.hpp"
#include "../aligned.hpp"
#include "../cpu_dispatch.hpp"
#include "../vec8.hpp"

namespace neuralfx {
namespace conv {

constexpr int round8(int c) { return (c + 7) / 8 * 8; }

// Models process long calls in chunks of at most this many frames, so the per-chunk scratch
// (head sums, stream) stays in the L1/L2 cache whatever the host's block size.
constexpr int kChunk = 128;

// The input frames of one dilated layer: the `span` = (kernel - 1) * dilation frames before
// the current chunk, then room for the chunk. A linear buffer that is rewound (the last span
// frames copied to the front) when the next chunk would not fit; the room is at least span
// frames, so the copy costs at most one frame per frame processed.
class History {
public:
    History() = default;
    History(int stride, int span) : stride_(stride), span_(span) {}

    void prepare(int max_chunk) {
        capacity_ = span_ + std::max({max_chunk, span_, 256});
        data_.assign(static_cast<size_t>(capacity_) * static_cast<size_t>(stride_), 0.0f);
        saved_.assign(static_cast<size_t>(span_) * static_cast<size_t>(stride_), 0.0f);
        pos_ = span_;
    }
    // The span frames before the next chunk are all the state there is.
    void save() {
        std::copy_n(data_.data() + static_cast<size_t>(pos_ - span_) * static_cast<size_t>(stride_), saved_.size(),
                    saved_.data());
    }
    void restore() {
        std::copy_n(saved_.data(), saved_.size(), data_.data());
        pos_ = span_;
    }
    void reset() {
        std::fill(data_.begin(), data_.end(), 0.0f);
        pos_ = span_;
    }
    // Frame 0 of the next n frames; the span frames before it are the previous input.
    float* begin_chunk(int n) {
        if (pos_ + n > capacity_) {
            std::memmove(data_.data(), data_.data() + static_cast<size_t>(pos_ - span_) * static_cast<size_t>(stride_),
                         static_cast<size_t>(span_) * static_cast<size_t>(stride_) * sizeof(float));
            pos_ = span_;
        }
        return data_.data() + static_cast<size_t>(pos_) * static_cast<size_t>(stride_);
    }
    void end_chunk(int n) { pos_ += n; }

private:
    AlignedFloats data_;  // frames of stride floats (a multiple of 8) from a cache line: no frame straddles two
    AlignedFloats saved_;  // save()'s copy of the span frames
    int stride_ = 0;
    int span_ = 0;
    int capacity_ = 0;
    int pos_ = 0;
};

// Read-only packed weights: arrays appended one by one, each starting on a 64-byte boundary.
// Offsets are handed out while packing and turned into pointers once storage stops growing.
class Packed {
public:
    size_t add(size_t count) {
        const size_t at = size_;
        size_ += (count + 15) / 16 * 16;
        return at;
    }
    void allocate() { storage_.assign(size_, 0.0f); }
    float* at(size_t offset) { return storage_.data() + offset; }
    Packed() = default;
    Packed(const Packed&) = delete;  // pointers point into storage
    Packed& operator=(const Packed&) = delete;

private:
    AlignedFloats storage_;
    size_t size_ = 0;
};

// A torch Conv1d weight (out, in, taps), row-major, into [tap][in][out padded to out_stride].
inline void pack_conv(float* dst, const std::vector<float>& w, int out, int in, int taps, int out_stride) {
    for (int o = 0; o < out; ++o)
        for (int i = 0; i < in; ++i)
            for (int k = 0; k < taps; ++k)
                dst[(static_cast<size_t>(k) * in + i) * out_stride + o] = w[(static_cast<size_t>(o) * in + i) * taps + k];
}

// FiLM rows of one layer: torch's linear gives, per layer, `channels` scales then `channels`
// shifts (neuralfx/models/conv.py). Packed as (1 + knobs) rows of [scale | shift], each
// `stride` wide: row 0 the biases (scale bias + 1: the scale is 1 + linear), row 1 + k the
// weights of conditioning knob k.
inline void pack_film(float* dst, const std::vector<float>& w, const std::vector<float>& b, int row_offset, int channels,
                      int num_knobs, int stride) {
    for (int c = 0; c < channels; ++c) {
        const size_t s = static_cast<size_t>(row_offset + c), h = static_cast<size_t>(row_offset + channels + c);
        dst[c] = 1.0f + b[s];
        dst[stride + c] = b[h];
        for (int k = 0; k < num_knobs; ++k) {
            dst[static_cast<size_t>(1 + k) * 2 * stride + c] = w[s * num_knobs + k];
            dst[static_cast<size_t>(1 + k) * 2 * stride + stride + c] = w[h * num_knobs + k];
        }
    }
}

// acc[tt][v] += sum over taps k and input channels ci of
//     in[(tt - (taps - 1 - k) * dilation) * in_stride + ci] * w[(k * cin + ci) * out_stride + 8 v]
// i.e. a causal dilated convolution (taps = 1: a 1x1 product) for T frames starting at `in`
// and kV Vec8s of output channels starting at `w`. kCin > 0: the input channel count as a
// compile-time constant (unrolled); 0: read from cin.
template <class Vec, int kCin, int kV, int T>
NEURALFX_ALWAYS_INLINE void conv_acc(Vec (&acc)[T][kV], const float* in, int in_stride, int cin, const float* w,
                                     int out_stride, int taps, int dilation) {
    const int C = kCin > 0 ? kCin : cin;
    // A local copy: the caller's accumulators may live in memory (its epilogue indexes them),
    // and the broadcast's memory operand (vec_broadcast_from) then made GCC store them after
    // every multiply-add; these stay in registers for the whole loop.
    Vec a[T][kV];
    for (int tt = 0; tt < T; ++tt)
        for (int v = 0; v < kV; ++v) a[tt][v] = acc[tt][v];
    for (int k = 0; k < taps; ++k) {
        const float* __restrict src = in - static_cast<ptrdiff_t>(taps - 1 - k) * dilation * in_stride;
        const float* __restrict wk = w + static_cast<size_t>(k) * C * out_stride;
        for (int ci = 0; ci < C; ++ci) {
            Vec wv[kV];
            for (int v = 0; v < kV; ++v) wv[v] = vec_load<Vec>(wk + static_cast<size_t>(ci) * out_stride + 8 * v);
            for (int tt = 0; tt < T; ++tt) {
                const Vec b = vec_broadcast_from<Vec>(src + tt * in_stride + ci);
                for (int v = 0; v < kV; ++v) a[tt][v] += b * wv[v];
            }
        }
    }
    for (int tt = 0; tt < T; ++tt)
        for (int v = 0; v < kV; ++v) acc[tt][v] = a[tt][v];
}

// FiLM for frame t of a chunk, output Vec8 group at column `col`: z * scale + shift, with
// scale and shift linear in the conditioning knobs (see pack_film).
template <class Vec>
NEURALFX_ALWAYS_INLINE Vec film_apply(Vec z, const float* film, int stride, const float* const* knobs, int num_knobs, int t,
                                      int col) {
    Vec scale = vec_load<Vec>(film + col);
    Vec shift = vec_load<Vec>(film + stride + col);
    for (int k = 0; k < num_knobs; ++k) {
        const Vec kv = vec_broadcast_from<Vec>(knobs[k] + t);
        const float* row = film + static_cast<size_t>(1 + k) * 2 * stride;
        scale += kv * vec_load<Vec>(row + col);
        shift += kv * vec_load<Vec>(row + stride + col);
    }
    return z * scale + shift;
}

// Output-channel tiling for a layer of C channels (0: sized at run time): kV Vec8s of output
// channels per pass and T frames per tile: kV * T = 12 accumulators, enough independent
// multiply-add chains to cover the FMA latency (4 to 5 cycles) on two ports, with the kV
// weight vectors and a broadcast still inside the 16 AVX registers. Frames left over run in
// tiles of T2 (4 divides every power-of-two block), then one by one. Run-time sizes take one
// Vec8 per pass.
template <int kC>
struct Tiling {
    static constexpr int stride = kC > 0 ? round8(kC) : 0;
    static constexpr int V = stride == 16 ? 2 : 1;
    static constexpr int T = 12 / V;
    static constexpr int T2 = 4;
};

// Channel counts whose layers are compiled with the count as a constant; others run the
// run-time-sized code. The list is the one place they are named.
template <int... Cs>
struct ChannelList {
    static constexpr bool contains(int c) { return ((c == Cs) || ...); }
    template <class Fn, class Pick>
    static Fn select(int c, Pick pick) {
        Fn f = pick.template operator()<0>();
        (void)((c == Cs ? (f = pick.template operator()<Cs>(), true) : false) || ...);
        return f;
    }
};
using SpecializedChannels = ChannelList<4, 6, 8, 12, 16>;

}  // namespace conv
}  // namespace neuralfx
