#pragma once
// WaveNet amp model in the Neural Amp Modeler layout; twin of neuralfx/models/wavenet.py, whose
// docstring has the equations. Per array of C channels, per layer:
//   z = tanh(conv_d(y) + mixin * x);  z = film(z);  head += z;  y = y + out(z)
// then the head goes through a 1x1 to the next array (to the output at the end).
//
// Every layer is computed over a chunk of frames as matrix products (conv_common.hpp): the
// dilated convolution's taps read the layer's input history, a tile of T frames at a time with
// the accumulators in registers; tanh, FiLM and the head sum run on the accumulators, and the
// 1x1 output product reads the tile's activations back from a small buffer in L1. Channel
// counts in conv::SpecializedChannels are compiled as constants, others at run time; the hot
// loop is compiled for the baseline and for AVX2+FMA and picked at construction (as in lstm.hpp).
// The result of a frame never depends on the chunk or block it falls in: the same sums in the
// same order, so any block split gives the same output.

#include <cmath>
#include <memory>
#include <vector>

#include "../block.hpp"
#include "conv_common.hpp"

namespace neuralfx {

class WaveNet final : public Block {
public:
    // One layer array as stored in a model file (torch layouts, row-major).
    struct ArrayWeights {
        int channels = 0;
        int input_size = 0;  // 1 for the first array, else the previous array's channels
        int kernel_size = 0;
        int head_size = 0;   // the next array's channels, 1 for the last
        std::vector<int> dilations;
        std::vector<float> rechannel;  // (channels, input_size)
        struct Layer {
            std::vector<float> conv_weight;  // (channels, channels, kernel_size)
            std::vector<float> conv_bias;    // (channels)
            std::vector<float> mixin;        // (channels)
            std::vector<float> out_weight;   // (channels, channels)
            std::vector<float> out_bias;     // (channels)
        };
        std::vector<Layer> layers;
        std::vector<float> head_weight;  // (head_size, channels)
        std::vector<float> head_bias;    // (head_size) for the last array, else empty
    };

    // film_weight (2 * sum of layer channels, conditioning.size()) and film_bias: FiLM's linear
    // layer; empty when the model has no conditioning.
    WaveNet(std::vector<ArrayWeights> arrays, float head_scale, std::vector<int> conditioning,
            const std::vector<float>& film_weight, const std::vector<float>& film_bias)
        : conditioning_(std::move(conditioning)),
          weights_(std::make_shared<Weights>(arrays, head_scale, static_cast<int>(conditioning_.size()), film_weight,
                                             film_bias)),
          knob_ptrs_(conditioning_.size(), nullptr) {
        for (const PackedArray& a : weights_->arrays) {
            std::vector<conv::History> h;
            for (const PackedLayer& l : a.layers) h.emplace_back(a.stride, (a.kernel_size - 1) * l.dilation);
            histories_.push_back(std::move(h));
            process_array_.push_back(conv::SpecializedChannels::select<ArrayFn>(a.channels, Pick{}));
        }
        int max_stride = 8;
        for (const PackedArray& a : weights_->arrays) max_stride = std::max(max_stride, a.stride);
        max_stride_ = max_stride;
    }

    void prepare(int) override {
        for (auto& array : histories_)
            for (conv::History& h : array) h.prepare(conv::kChunk);
        stream_.assign(static_cast<size_t>(conv::kChunk) * static_cast<size_t>(max_stride_), 0.0f);
        head_.assign(2 * static_cast<size_t>(conv::kChunk) * static_cast<size_t>(max_stride_), 0.0f);
        z_.assign(static_cast<size_t>(12) * static_cast<size_t>(max_stride_), 0.0f);  // a tile: at most 12 frames
        reset();
    }

    void reset() override {
        for (auto& array : histories_)
            for (conv::History& h : array) h.reset();
    }
    void save_state() override {
        for (auto& array : histories_)
            for (conv::History& h : array) h.save();
    }
    void restore_state() override {
        for (auto& array : histories_)
            for (conv::History& h : array) h.restore();
    }

    void process(float* audio, int n, KnobBuffers knobs) override {
        for (int start = 0; start < n; start += conv::kChunk) {
            const int m = std::min(conv::kChunk, n - start);
            for (size_t k = 0; k < conditioning_.size(); ++k) knob_ptrs_[k] = knobs[conditioning_[k]] + start;
            for (size_t a = 0; a < weights_->arrays.size(); ++a) process_array_[a](*this, static_cast<int>(a), audio + start, m);
        }
    }

    // Clones share the read-only weights. A block as loaded holds no history until prepare():
    // the Model prepares one clone per channel, so long dilations cost their memory once per
    // channel (the loaded prototype used to hold a set it never used, and each clone copied it).
    std::unique_ptr<Block> clone() const override {
        auto copy = std::make_unique<WaveNet>(*this);
        copy->reset();
        return copy;
    }

    // Channel counts of the arrays that run compile-time-sized code (for the bench and tests).
    bool compile_time_sized() const {
        for (const PackedArray& a : weights_->arrays)
            if (!conv::SpecializedChannels::contains(a.channels)) return false;
        return true;
    }

    // Per array the input's rechannel 1x1 and the head's 1x1; per layer the dilated convolution's
    // taps, the mixin, the output 1x1 and FiLM's rows (a scale and a shift per channel from every
    // knob). NAM's standard layout: 13,320.
    long long multiply_adds_per_sample() const override {
        const long long knobs = weights_->num_knobs;
        long long total = 0;
        for (const PackedArray& a : weights_->arrays) {
            const long long C = a.channels;
            total += C * a.input_size + a.head_size * C;
            total += static_cast<long long>(a.layers.size()) * (C * C * a.kernel_size + C + C * C + 2 * C * knobs);
        }
        return total;
    }

private:
    struct PackedLayer {
        int dilation = 0;
        const float* conv = nullptr;      // [tap][in][out], stride wide
        const float* conv_bias = nullptr;
        const float* mixin = nullptr;
        const float* out = nullptr;       // [in][out]
        const float* out_bias = nullptr;
        const float* film = nullptr;      // see conv::pack_film; nullptr without conditioning
    };
    struct PackedArray {
        int channels = 0, stride = 0, input_size = 0, input_stride = 0, kernel_size = 0, head_size = 0, head_stride = 0;
        bool last = false;
        const float* rechannel = nullptr;  // [in][out]
        std::vector<PackedLayer> layers;
        const float* head = nullptr;       // [in][out], head_stride wide
        float head_bias = 0.0f;            // the last array's (one output)
    };

    struct Weights {
        std::vector<PackedArray> arrays;
        float head_scale = 0.0f;
        int num_knobs = 0;
        conv::Packed packed;

        Weights(const std::vector<ArrayWeights>& src, float scale, int knobs, const std::vector<float>& film_w,
                const std::vector<float>& film_b)
            : head_scale(scale), num_knobs(knobs) {
            struct Offsets {
                size_t rechannel, head;
                std::vector<size_t> conv, conv_bias, mixin, out, out_bias, film;
            };
            std::vector<Offsets> offs;
            for (size_t a = 0; a < src.size(); ++a) {
                const ArrayWeights& s = src[a];
                PackedArray p;
                p.channels = s.channels;
                p.stride = conv::round8(s.channels);
                p.input_size = s.input_size;
                p.input_stride = conv::round8(s.input_size);
                p.kernel_size = s.kernel_size;
                p.head_size = s.head_size;
                p.head_stride = conv::round8(s.head_size);
                p.last = a + 1 == src.size();
                p.head_bias = s.head_bias.empty() ? 0.0f : s.head_bias[0];
                Offsets o;
                const size_t S = static_cast<size_t>(p.stride);
                o.rechannel = packed.add(static_cast<size_t>(s.input_size) * S);
                o.head = packed.add(S * static_cast<size_t>(p.head_stride));
                for (size_t l = 0; l < s.dilations.size(); ++l) {
                    o.conv.push_back(packed.add(static_cast<size_t>(s.kernel_size) * s.channels * S));
                    o.conv_bias.push_back(packed.add(S));
                    o.mixin.push_back(packed.add(S));
                    o.out.push_back(packed.add(static_cast<size_t>(s.channels) * S));
                    o.out_bias.push_back(packed.add(S));
                    o.film.push_back(knobs ? packed.add(static_cast<size_t>(1 + knobs) * 2 * S) : 0);
                }
                arrays.push_back(p);
                offs.push_back(std::move(o));
            }
            packed.allocate();
            int film_row = 0;
            for (size_t a = 0; a < src.size(); ++a) {
                const ArrayWeights& s = src[a];
                PackedArray& p = arrays[a];
                const Offsets& o = offs[a];
                const int C = s.channels;
                conv::pack_conv(packed.at(o.rechannel), s.rechannel, C, s.input_size, 1, p.stride);
                p.rechannel = packed.at(o.rechannel);
                conv::pack_conv(packed.at(o.head), s.head_weight, s.head_size, C, 1, p.head_stride);
                p.head = packed.at(o.head);
                for (size_t l = 0; l < s.dilations.size(); ++l) {
                    const ArrayWeights::Layer& w = s.layers[l];
                    PackedLayer pl;
                    pl.dilation = s.dilations[l];
                    conv::pack_conv(packed.at(o.conv[l]), w.conv_weight, C, C, s.kernel_size, p.stride);
                    std::copy(w.conv_bias.begin(), w.conv_bias.end(), packed.at(o.conv_bias[l]));
                    std::copy(w.mixin.begin(), w.mixin.end(), packed.at(o.mixin[l]));
                    conv::pack_conv(packed.at(o.out[l]), w.out_weight, C, C, 1, p.stride);
                    std::copy(w.out_bias.begin(), w.out_bias.end(), packed.at(o.out_bias[l]));
                    pl.conv = packed.at(o.conv[l]);
                    pl.conv_bias = packed.at(o.conv_bias[l]);
                    pl.mixin = packed.at(o.mixin[l]);
                    pl.out = packed.at(o.out[l]);
                    pl.out_bias = packed.at(o.out_bias[l]);
                    if (knobs) {
                        conv::pack_film(packed.at(o.film[l]), film_w, film_b, film_row, C, knobs, p.stride);
                        pl.film = packed.at(o.film[l]);
                    }
                    film_row += 2 * C;
                    p.layers.push_back(pl);
                }
            }
        }
    };

    using ArrayFn = void (*)(WaveNet&, int, float*, int);

    // One tile of T frames of one layer, output columns [8 g, 8 (g + kV)): the dilated
    // convolution, mixin, tanh and FiLM; adds z to the head sum and leaves it in z_.
    template <class Vec, int kC, int kV, int T>
    NEURALFX_ALWAYS_INLINE void layer_z(const PackedArray& a, const PackedLayer& l, const float* in, const float* x,
                                        float* head, int t0, int g) {
        const int S = kC > 0 ? conv::round8(kC) : a.stride;
        Vec acc[T][kV];
        for (int v = 0; v < kV; ++v) {
            const Vec b = vec_load<Vec>(l.conv_bias + 8 * (g + v));
            const Vec mix = vec_load<Vec>(l.mixin + 8 * (g + v));
            for (int tt = 0; tt < T; ++tt) acc[tt][v] = b + vec_broadcast_from<Vec>(x + t0 + tt) * mix;
        }
        conv::conv_acc<Vec, kC, kV, T>(acc, in + static_cast<size_t>(t0) * S, S, a.channels, l.conv + 8 * g, S,
                                       a.kernel_size, l.dilation);
        const int num_knobs = weights_->num_knobs;
        // Unrolled. GCC kept it a loop (the FiLM branch inside), which a cpu-clock profile put at
        // ~20% of the 16-channel array's time. Unrolled, paired rounds on the Zen 3 VM, block 64:
        // wavenet:standard 1.047x (15 rounds, every one faster), 1.041x and 1.056x (7 rounds
        // each); wavenet:lite 1.016-1.068x. Why is not established (no hardware counters): the
        // tanh still reads its constants from the stack (~11 accesses per tanh against ~13 in the
        // loop). Unrolling conv_acc's channel loop instead measured 0.91x.
#pragma GCC unroll 16
        for (int tt = 0; tt < T; ++tt)
#pragma GCC unroll 4
            for (int v = 0; v < kV; ++v) {
                const int col = 8 * (g + v);
                Vec z = fast_tanh(acc[tt][v]);
                if (l.film) z = conv::film_apply(z, l.film, S, knob_ptrs_.data(), num_knobs, t0 + tt, col);
                vec_store(z_.data() + tt * S + col, z);
                float* h = head + static_cast<size_t>(t0 + tt) * S + col;
                vec_store(h, vec_load<Vec>(h) + z);
            }
    }

    // The tile's next-layer input: in + out_bias + W_out z.
    template <class Vec, int kC, int kV, int T>
    NEURALFX_ALWAYS_INLINE void layer_out(const PackedArray& a, const PackedLayer& l, const float* in, float* out, int t0,
                                          int g) {
        const int S = kC > 0 ? conv::round8(kC) : a.stride;
        Vec acc[T][kV];
        for (int tt = 0; tt < T; ++tt)
            for (int v = 0; v < kV; ++v)
                acc[tt][v] = vec_load<Vec>(in + static_cast<size_t>(t0 + tt) * S + 8 * (g + v)) +
                             vec_load<Vec>(l.out_bias + 8 * (g + v));
        conv::conv_acc<Vec, kC, kV, T>(acc, z_.data(), S, a.channels, l.out + 8 * g, S, 1, 0);
        for (int tt = 0; tt < T; ++tt)
            for (int v = 0; v < kV; ++v) vec_store(out + static_cast<size_t>(t0 + tt) * S + 8 * (g + v), acc[tt][v]);
    }

    template <class Vec, int kC, int T>
    NEURALFX_ALWAYS_INLINE void layer_tile(const PackedArray& a, const PackedLayer& l, const float* in, const float* x,
                                           float* head, float* out, int t0) {
        constexpr int kV = kC > 0 ? conv::Tiling<kC>::V : 1;
        const int groups = (kC > 0 ? conv::round8(kC) : a.stride) / 8;
        for (int g = 0; g < groups; g += kV) layer_z<Vec, kC, kV, T>(a, l, in, x, head, t0, g);
        if (out)
            for (int g = 0; g < groups; g += kV) layer_out<Vec, kC, kV, T>(a, l, in, out, t0, g);
    }

    // A 1x1 product over the chunk: out[t] = W in[t] (+ out[t] when accumulate), W packed
    // [in][out] with out_stride columns.
    template <class Vec, int T>
    NEURALFX_ALWAYS_INLINE static void matmul_1x1(const float* in, int in_stride, int cin, const float* w, int out_stride,
                                                  float* out, int n, bool accumulate) {
        for (int t0 = 0; t0 < n; t0 += T) {
            const int count = std::min(T, n - t0);
            for (int g = 0; g < out_stride / 8; ++g) {
                if (count == T) {
                    Vec acc[T][1];
                    for (int tt = 0; tt < T; ++tt)
                        acc[tt][0] = accumulate ? vec_load<Vec>(out + static_cast<size_t>(t0 + tt) * out_stride + 8 * g)
                                                : vec_broadcast<Vec>(0.0f);
                    conv::conv_acc<Vec, 0, 1, T>(acc, in + static_cast<size_t>(t0) * in_stride, in_stride, cin, w + 8 * g,
                                                 out_stride, 1, 0);
                    for (int tt = 0; tt < T; ++tt) vec_store(out + static_cast<size_t>(t0 + tt) * out_stride + 8 * g, acc[tt][0]);
                } else {
                    for (int tt = 0; tt < count; ++tt) {
                        Vec acc[1][1];
                        acc[0][0] = accumulate ? vec_load<Vec>(out + static_cast<size_t>(t0 + tt) * out_stride + 8 * g)
                                               : vec_broadcast<Vec>(0.0f);
                        conv::conv_acc<Vec, 0, 1, 1>(acc, in + static_cast<size_t>(t0 + tt) * in_stride, in_stride, cin,
                                                     w + 8 * g, out_stride, 1, 0);
                        vec_store(out + static_cast<size_t>(t0 + tt) * out_stride + 8 * g, acc[0][0]);
                    }
                }
            }
        }
    }

    // One array over a chunk of n frames of audio (in place on the last array).
    template <class Vec, int kC>
    NEURALFX_ALWAYS_INLINE void run_array(int index, float* audio, int n) {
        const PackedArray& a = weights_->arrays[static_cast<size_t>(index)];
        std::vector<conv::History>& hist = histories_[static_cast<size_t>(index)];
        const int S = kC > 0 ? conv::round8(kC) : a.stride;
        constexpr int T = kC > 0 ? conv::Tiling<kC>::T : 8;
        // This array's head sum; the previous array's head output was written into it.
        float* head = head_.data() + static_cast<size_t>(index % 2) * conv::kChunk * max_stride_;
        float* in = hist[0].begin_chunk(n);
        if (index == 0) {
            std::fill(head, head + static_cast<size_t>(n) * S, 0.0f);
            for (int t = 0; t < n; ++t)
                for (int c = 0; c < S; ++c) in[static_cast<size_t>(t) * S + c] = a.rechannel[c] * audio[t];
        } else {
            matmul_1x1<Vec, T>(stream_.data(), a.input_stride, a.input_size, a.rechannel, S, in, n, false);
        }
        // Every layer reads the audio (mixin); the last array overwrites it only after its layers.
        const float* x = audio;
        const size_t L = a.layers.size();
        for (size_t li = 0; li < L; ++li) {
            const PackedLayer& l = a.layers[li];
            float* out = li + 1 < L ? hist[li + 1].begin_chunk(n) : (a.last ? nullptr : stream_.data());
            int t0 = 0;
            for (; t0 + T <= n; t0 += T) layer_tile<Vec, kC, T>(a, l, in, x, head, out, t0);
            if constexpr (kC > 0)
                for (; t0 + conv::Tiling<kC>::T2 <= n; t0 += conv::Tiling<kC>::T2)
                    layer_tile<Vec, kC, conv::Tiling<kC>::T2>(a, l, in, x, head, out, t0);
            for (; t0 < n; ++t0) layer_tile<Vec, kC, 1>(a, l, in, x, head, out, t0);
            if (out && li + 1 < L) in = out;
        }
        for (conv::History& h : hist) h.end_chunk(n);
        if (!a.last) {
            float* next_head = head_.data() + static_cast<size_t>((index + 1) % 2) * conv::kChunk * max_stride_;
            matmul_1x1<Vec, 8>(head, S, a.channels, a.head, a.head_stride, next_head, n, false);
        } else {
            for (int t = 0; t < n; ++t) {
                const float* h = head + static_cast<size_t>(t) * S;
                float y = 0.0f;
                for (int c = 0; c < a.channels; ++c) y += a.head[static_cast<size_t>(c) * a.head_stride] * h[c];
                audio[t] = weights_->head_scale * (y + a.head_bias);
            }
        }
    }

    template <int kC>
    static void array_baseline(WaveNet& self, int index, float* audio, int n) {
        self.run_array<BaselineVec8, kC>(index, audio, n);
    }
#if NEURALFX_RUNTIME_DISPATCH
    template <int kC>
    NEURALFX_TARGET_AVX2_FMA static void array_avx2_fma(WaveNet& self, int index, float* audio, int n) {
        self.run_array<Vec8, kC>(index, audio, n);
    }
#endif
    struct Pick {
        template <int kC>
        ArrayFn operator()() const {
#if NEURALFX_RUNTIME_DISPATCH
            if (dispatch_avx2_fma()) return &array_avx2_fma<kC>;
#endif
            return &array_baseline<kC>;
        }
    };

    std::vector<int> conditioning_;
    std::shared_ptr<const Weights> weights_;
    std::vector<const float*> knob_ptrs_;  // the conditioning knobs' buffers at the current chunk
    std::vector<std::vector<conv::History>> histories_;
    std::vector<ArrayFn> process_array_;
    int max_stride_ = 8;
    // Frames of 8k floats from a cache line (aligned.hpp), so no vector straddles two.
    AlignedFloats stream_;  // the last layer's output of an array: the next array's input
    AlignedFloats head_;    // two head sums, alternating between arrays
    AlignedFloats z_;       // the current tile's activations
};

}  // namespace neuralfx
