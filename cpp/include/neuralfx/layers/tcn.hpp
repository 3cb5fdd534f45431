#pragma once
// Causal micro-TCN for dynamics; twin of neuralfx/models/tcn.py, whose docstring has the
// equations. Per layer: z = prelu(film(conv_d(y))); y = z + res(y); then output = w . y + b.
// Each layer is computed over a chunk as matrix products (conv_common.hpp), a tile of frames at
// a time; FiLM, PReLU and the residual run on the accumulators. Channel counts in
// conv::SpecializedChannels run compile-time-sized code; the hot loop has a baseline and an
// AVX2+FMA copy picked at construction.

#include <memory>
#include <vector>

#include "../block.hpp"
#include "conv_common.hpp"

namespace neuralfx {

class TCN final : public Block {
public:
    struct Layer {
        int dilation = 0;
        std::vector<float> conv_weight;  // (channels, in, kernel_size); in = 1 for layer 0
        std::vector<float> conv_bias;    // (channels)
        std::vector<float> prelu;        // (channels)
        std::vector<float> res;          // (channels) for layer 0 when channels != 1, else empty
    };

    TCN(int channels, int kernel_size, std::vector<Layer> layers, const std::vector<float>& output_weight, float output_bias,
        std::vector<int> conditioning, const std::vector<float>& film_weight, const std::vector<float>& film_bias)
        : conditioning_(std::move(conditioning)),
          weights_(std::make_shared<Weights>(channels, kernel_size, layers, output_weight, output_bias,
                                             static_cast<int>(conditioning_.size()), film_weight, film_bias)),
          knob_ptrs_(conditioning_.size(), nullptr),
          process_(conv::SpecializedChannels::select<ProcessFn>(channels, Pick{})) {
        const int S = conv::round8(channels);
        for (size_t l = 0; l < layers.size(); ++l)
            histories_.emplace_back(l == 0 ? 8 : S, (kernel_size - 1) * layers[l].dilation);
    }

    void prepare(int) override {
        for (conv::History& h : histories_) h.prepare(conv::kChunk);
        stream_.assign(static_cast<size_t>(conv::kChunk) * static_cast<size_t>(weights_->stride), 0.0f);
        reset();
    }

    void reset() override {
        for (conv::History& h : histories_) h.reset();
    }
    void save_state() override {
        for (conv::History& h : histories_) h.save();
    }
    void restore_state() override {
        for (conv::History& h : histories_) h.restore();
    }

    void process(float* audio, int n, KnobBuffers knobs) override {
        for (int start = 0; start < n; start += conv::kChunk) {
            const int m = std::min(conv::kChunk, n - start);
            for (size_t k = 0; k < conditioning_.size(); ++k) knob_ptrs_[k] = knobs[conditioning_[k]] + start;
            process_(*this, audio + start, m);
        }
    }

    // As WaveNet's: histories are allocated by prepare(), per channel.
    std::unique_ptr<Block> clone() const override {
        auto copy = std::make_unique<TCN>(*this);
        copy->reset();
        return copy;
    }

    bool compile_time_sized() const { return conv::SpecializedChannels::contains(weights_->channels); }

    // Per layer the convolution's taps, layer 0's residual 1x1 and FiLM's rows (a scale and a
    // shift per channel from every knob); then the output's C.
    long long multiply_adds_per_sample() const override {
        const Weights& w = *weights_;
        const long long C = w.channels;
        long long total = C;
        for (const PackedLayer& l : w.layers)
            total += C * l.cin * w.kernel_size + (l.res ? C : 0) + 2 * C * w.num_knobs;
        return total;
    }

private:
    struct PackedLayer {
        int dilation = 0;
        int cin = 0;
        const float* conv = nullptr;  // [tap][in][out]
        const float* conv_bias = nullptr;
        const float* prelu = nullptr;
        const float* res = nullptr;   // layer 0's 1x1 from one channel; nullptr: identity
        const float* film = nullptr;
    };

    struct Weights {
        int channels = 0, stride = 0, kernel_size = 0, num_knobs = 0;
        std::vector<PackedLayer> layers;
        AlignedFloats output;  // stride entries, zero-padded
        float output_bias = 0.0f;
        conv::Packed packed;

        Weights(int C, int K, const std::vector<Layer>& src, const std::vector<float>& out_w, float out_b, int knobs,
                const std::vector<float>& film_w, const std::vector<float>& film_b)
            : channels(C), stride(conv::round8(C)), kernel_size(K), num_knobs(knobs), output(conv::round8(C), 0.0f),
              output_bias(out_b) {
            const size_t S = static_cast<size_t>(stride);
            std::vector<size_t> o_conv, o_bias, o_prelu, o_res, o_film;
            for (size_t l = 0; l < src.size(); ++l) {
                const size_t cin = l == 0 ? 1 : static_cast<size_t>(C);
                o_conv.push_back(packed.add(static_cast<size_t>(K) * cin * S));
                o_bias.push_back(packed.add(S));
                o_prelu.push_back(packed.add(S));
                o_res.push_back(packed.add(S));
                o_film.push_back(knobs ? packed.add(static_cast<size_t>(1 + knobs) * 2 * S) : 0);
            }
            packed.allocate();
            for (size_t l = 0; l < src.size(); ++l) {
                const Layer& w = src[l];
                PackedLayer p;
                p.dilation = w.dilation;
                p.cin = l == 0 ? 1 : C;
                conv::pack_conv(packed.at(o_conv[l]), w.conv_weight, C, p.cin, K, stride);
                std::copy(w.conv_bias.begin(), w.conv_bias.end(), packed.at(o_bias[l]));
                std::copy(w.prelu.begin(), w.prelu.end(), packed.at(o_prelu[l]));
                p.conv = packed.at(o_conv[l]);
                p.conv_bias = packed.at(o_bias[l]);
                p.prelu = packed.at(o_prelu[l]);
                if (!w.res.empty()) {
                    std::copy(w.res.begin(), w.res.end(), packed.at(o_res[l]));
                    p.res = packed.at(o_res[l]);
                }
                if (knobs) {
                    conv::pack_film(packed.at(o_film[l]), film_w, film_b, static_cast<int>(l) * 2 * C, C, knobs, stride);
                    p.film = packed.at(o_film[l]);
                }
                layers.push_back(p);
            }
            std::copy(out_w.begin(), out_w.begin() + C, output.begin());
        }
    };

    using ProcessFn = void (*)(TCN&, float*, int);

    // One tile of T frames, output columns [8 g, 8 (g + kV)), of layer l (kCin: 1 for layer 0).
    template <class Vec, int kCin, int kC, int kV, int T>
    NEURALFX_ALWAYS_INLINE void layer_tile(const PackedLayer& l, const float* in, int in_stride, const float* x, float* out,
                                           int t0, int g) {
        const Weights& w = *weights_;
        const int S = kC > 0 ? conv::round8(kC) : w.stride;
        Vec acc[T][kV];
        for (int tt = 0; tt < T; ++tt)
            for (int v = 0; v < kV; ++v) acc[tt][v] = vec_load<Vec>(l.conv_bias + 8 * (g + v));
        conv::conv_acc<Vec, kCin, kV, T>(acc, in + static_cast<size_t>(t0) * in_stride, in_stride, l.cin, l.conv + 8 * g, S,
                                         w.kernel_size, l.dilation);
        for (int tt = 0; tt < T; ++tt)
            for (int v = 0; v < kV; ++v) {
                const int col = 8 * (g + v);
                Vec z = acc[tt][v];
                if (l.film) z = conv::film_apply(z, l.film, S, knob_ptrs_.data(), w.num_knobs, t0 + tt, col);
                const Vec neg = vec_min(z, vec_broadcast<Vec>(0.0f));
                z = z - neg + vec_load<Vec>(l.prelu + col) * neg;  // prelu: max(z, 0) + a min(z, 0)
                Vec res;
                if (l.res)
                    res = vec_broadcast_from<Vec>(x + t0 + tt) * vec_load<Vec>(l.res + col);
                else
                    res = vec_load<Vec>(in + static_cast<size_t>(t0 + tt) * in_stride + col);
                vec_store(out + static_cast<size_t>(t0 + tt) * S + col, z + res);
            }
    }

    template <class Vec, int kCin, int kC>
    NEURALFX_ALWAYS_INLINE void layer(const PackedLayer& l, const float* in, int in_stride, const float* x, float* out, int n) {
        constexpr int kV = kC > 0 ? conv::Tiling<kC>::V : 1;
        constexpr int T = kC > 0 ? conv::Tiling<kC>::T : 8;
        const int groups = weights_->stride / 8;
        int t0 = 0;
        for (; t0 + T <= n; t0 += T)
            for (int g = 0; g < groups; g += kV) layer_tile<Vec, kCin, kC, kV, T>(l, in, in_stride, x, out, t0, g);
        if constexpr (kC > 0)
            for (; t0 + conv::Tiling<kC>::T2 <= n; t0 += conv::Tiling<kC>::T2)
                for (int g = 0; g < groups; g += kV)
                    layer_tile<Vec, kCin, kC, kV, conv::Tiling<kC>::T2>(l, in, in_stride, x, out, t0, g);
        for (; t0 < n; ++t0)
            for (int g = 0; g < groups; g += kV) layer_tile<Vec, kCin, kC, kV, 1>(l, in, in_stride, x, out, t0, g);
    }

    template <class Vec, int kC>
    NEURALFX_ALWAYS_INLINE void run(float* audio, int n) {
        const Weights& w = *weights_;
        const int S = w.stride;
        float* in = histories_[0].begin_chunk(n);  // one channel, frames 8 wide (lanes 1..7 stay zero)
        for (int t = 0; t < n; ++t) in[static_cast<size_t>(t) * 8] = audio[t];
        int in_stride = 8;
        const size_t L = w.layers.size();
        for (size_t li = 0; li < L; ++li) {
            float* out = li + 1 < L ? histories_[li + 1].begin_chunk(n) : stream_.data();
            if (li == 0 && w.channels != 1)
                layer<Vec, 1, kC>(w.layers[li], in, in_stride, audio, out, n);
            else
                layer<Vec, kC, kC>(w.layers[li], in, in_stride, audio, out, n);
            in = out;
            in_stride = S;
        }
        for (conv::History& h : histories_) h.end_chunk(n);
        for (int t = 0; t < n; ++t) {
            const float* y = stream_.data() + static_cast<size_t>(t) * S;
            float acc = 0.0f;
            for (int c = 0; c < w.channels; ++c) acc += w.output[static_cast<size_t>(c)] * y[c];
            audio[t] = acc + w.output_bias;
        }
    }

    template <int kC>
    static void process_baseline(TCN& self, float* audio, int n) {
        self.run<BaselineVec8, kC>(audio, n);
    }
#if NEURALFX_RUNTIME_DISPATCH
    template <int kC>
    NEURALFX_TARGET_AVX2_FMA static void process_avx2_fma(TCN& self, float* audio, int n) {
        self.run<Vec8, kC>(audio, n);
    }
#endif
    struct Pick {
        template <int kC>
        ProcessFn operator()() const {
#if NEURALFX_RUNTIME_DISPATCH
            if (dispatch_avx2_fma()) return &process_avx2_fma<kC>;
#endif
            return &process_baseline<kC>;
        }
    };

    std::vector<int> conditioning_;
    std::shared_ptr<const Weights> weights_;
    std::vector<const float*> knob_ptrs_;
    ProcessFn process_;
    std::vector<conv::History> histories_;  // layer 0: one channel in 8-wide frames; others `stride` wide
    AlignedFloats stream_;                  // the last layer's output, cache-line aligned (aligned.hpp)
};

}  // namespace neuralfx
