#pragma once
// The engine shared by the recurrent amp blocks (layers/lstm.hpp, layers/gru.hpp): a stack of
// recurrent layers over [audio, conditioning knobs...], a linear head, and an optional input
// skip (y = head(h) + x). A Cell supplies what differs between LSTM and GRU: the gate count,
// how each gate is scaled and biased, and the per-unit update from the gate sums.
//
// Speed comes from these choices:
//  - Layer by layer over chunks of kChunk samples. The input contribution (bias + W_ih input)
//    of every sample of a chunk is one pass before the recurrence, so the sample-to-sample
//    dependency chain holds only W_hh h and the cell update, and a stacked layer's input
//    product is independent work instead of part of the chain.
//  - Gate rows in groups of 8 hidden units: all G gates of 8 units are G Vec8 (AVX register)
//    accumulators, filled by broadcasting h[j] against column j of W_hh (no horizontal adds).
//    The cell update runs on the accumulators as soon as a group is summed, so gates never go
//    through memory. Groups go GP at a time, so 6-8 independent FMA chains are in flight.
//  - Two channels of one model (stereo) run in one loop (process_pair) when the hidden size is
//    one group of 8 units: a mono pass then has too few accumulators to cover the FMA latency,
//    and the other channel's chains fill the gaps (LSTM-8 stereo 1.6x two mono runs). From two
//    groups on, a mono pass already has 8 chains, and the paired loop measured slower than two
//    mono runs (block 64: LSTM-32 4-8 %, LSTM-48 and GRU-64 15-30 %), so channels run alone.
//  - Hidden sizes in Specialized get the code instantiated with H known at compile time; any
//    other size runs the same template with H read at run time.
//  - Branch-free tanh/sigmoid (activations.hpp) on whole vectors.
//  - The hot loop is compiled twice, for the x86-64 baseline and for AVX2+FMA, and the copy
//    is picked at construction from the CPU (cpu_dispatch.hpp).
// The arithmetic per sample never depends on the block size or on whether a channel runs
// alone or paired, so any block split and stereo give bit-identical output.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "../activations.hpp"
#include "../block.hpp"
#include "../cpu_dispatch.hpp"
#include "recurrent_weights.hpp"

namespace neuralfx {

template <class Cell>
class RecurrentBlock final : public Block {
public:
    using Layer = RecurrentLayerWeights;
    static constexpr int G = Cell::kGates;

    // conditioning: indices into the model's knob list, in the order the network sees them.
    RecurrentBlock(int hidden_size, std::vector<Layer> layers, std::vector<float> head_weight, float head_bias,
                   std::vector<int> conditioning, bool skip)
        : hidden_(hidden_size),
          conditioning_(std::move(conditioning)),
          skip_(skip),
          weights_(std::make_shared<Weights>(hidden_size, layers, head_weight, head_bias)),
          kernels_(Specialized::select(hidden_size)) {
        const size_t padded = static_cast<size_t>(weights_->padded);
        const size_t num_layers = layers.size();
        in_.assign(static_cast<size_t>(kChunk) * static_cast<size_t>(weights_->layers[0].inputs), 0.0f);
        proj_.assign(static_cast<size_t>(kChunk) * padded * G, 0.0f);
        hseq_.assign(num_layers * static_cast<size_t>(kChunk + 1) * padded, 0.0f);
        c_.assign(num_layers * padded, 0.0f);
        reset();
    }

    void prepare(int) override { reset(); }

    void reset() override {
        std::fill(hseq_.begin(), hseq_.end(), 0.0f);
        std::fill(c_.begin(), c_.end(), 0.0f);
    }

    void process(float* audio, int n, KnobBuffers knobs) override { kernels_.mono(*this, audio, n, knobs); }

    // Pairs only with a clone of the same prototype (same weights): the other channel.
    bool process_pair(Block& other, float* a, float* b, int n, KnobBuffers knobs) override {
        auto* o = dynamic_cast<RecurrentBlock*>(&other);
        if (!pairs_channels() || o == nullptr || o == this || o->weights_ != weights_) return false;
        kernels_.pair(*this, *o, a, b, n, knobs);
        return true;
    }

    // Clones share the (read-only) weights, so a stereo model keeps one copy in cache.
    std::unique_ptr<Block> clone() const override {
        auto copy = std::make_unique<RecurrentBlock>(*this);
        copy->reset();
        return copy;
    }

    using MonoFn = void (*)(RecurrentBlock&, float*, int, KnobBuffers);
    using PairFn = void (*)(RecurrentBlock&, RecurrentBlock&, float*, float*, int, KnobBuffers);
    struct Kernels {
        MonoFn mono;
        PairFn pair;
    };

    template <int... Hs>
    struct SizeList {
        static constexpr bool contains(int h) { return ((h == Hs) || ...); }
        // The compile-time-sized code for h when it is in the list, else the run-time-sized code.
        static Kernels select(int h) {
            Kernels k = kernels<0>();
            (void)((h == Hs ? (k = kernels<Hs>(), true) : false) || ...);
            return k;
        }
    };
    // Hidden sizes compiled with H as a constant; the list is the one place they are named.
    using Specialized = SizeList<8, 12, 16, 20, 24, 32, 40, 48, 64>;

    bool compile_time_sized() const { return Specialized::contains(hidden_); }
    // Whether process_pair runs two channels in one loop (see the header comment).
    bool pairs_channels() const { return pairing_pays(hidden_); }

private:
    // Samples per chunk: the input products of a chunk are computed before its recurrence.
    // 16 keeps a chunk's buffers (for H = 64, 16 x 4 x 64 floats of gate inputs) in L1.
    static constexpr int kChunk = 16;
    static constexpr int round_up(int v, int m) { return (v + m - 1) / m * m; }
    // Groups of 8 units per pass: enough accumulators (G x GP x channels) to keep both FMA
    // pipes busy while leaving registers for the broadcasts.
    static constexpr int groups_per_pass(int channels) { return G * channels >= 8 ? 1 : 8 / (G * channels); }
    static constexpr bool pairing_pays(int hidden) { return round_up(hidden, 8) / 8 < groups_per_pass(1); }

    struct PackedLayer {
        int inputs = 0;
        const float* wi = nullptr;    // [group][input][gate][8]
        const float* bias = nullptr;  // [group][gate][8]: the input-side bias (b_ih, plus b_hh unless kept apart)
        const float* bh = nullptr;    // [group][gate][8]: b_hh of the gates the cell keeps apart (GRU's n), else 0
        const float* wh = nullptr;    // [group][column][gate][8]
    };

    // Packed, read-only after construction, all gate rows scaled by Cell::kScale (1/2 for the
    // sigmoid gates, so the cell computes sigmoid(v) = (1 + tanh(v/2)) / 2 with one tanh;
    // halving is exact in float). Unit u of gate g is lane u % 8 of group u / 8; the lanes past
    // H (run-time sizes that are not a multiple of 8) hold zeros, which keep those units' h at 0.
    struct Weights {
        int hidden = 0;
        int padded = 0;  // H rounded up to 8
        std::vector<PackedLayer> layers;
        std::vector<float> head;  // padded entries, zero after H
        float head_bias = 0.0f;
        std::vector<float> storage;  // all layers' weights and biases, 64-byte aligned inside

        Weights(int H, const std::vector<Layer>& src, const std::vector<float>& head_weight, float bias)
            : hidden(H), padded(round_up(H, 8)), head(static_cast<size_t>(round_up(H, 8)), 0.0f), head_bias(bias) {
            constexpr size_t kAlign = 16;  // floats: 64 bytes, one cache line
            const size_t groups = static_cast<size_t>(padded / 8);
            auto aligned = [&](size_t v) { return (v + kAlign - 1) / kAlign * kAlign; };
            const size_t per_gate_set = groups * G * 8;
            size_t total = 0;
            for (const Layer& l : src)
                total += aligned(per_gate_set * static_cast<size_t>(l.input_size)) + 2 * aligned(per_gate_set) +
                         aligned(per_gate_set * static_cast<size_t>(H));
            storage.assign(total + kAlign, 0.0f);  // slack to align the start
            const size_t misalign = (reinterpret_cast<std::uintptr_t>(storage.data()) / sizeof(float)) % kAlign;
            float* next = storage.data() + (misalign ? kAlign - misalign : 0);
            auto take = [&](size_t n) {
                float* p = next;
                next += aligned(n);
                return p;
            };
            for (const Layer& l : src) {
                const int I = l.input_size;
                float* wi = take(per_gate_set * static_cast<size_t>(I));
                float* b = take(per_gate_set);
                float* bh = take(per_gate_set);
                float* wh = take(per_gate_set * static_cast<size_t>(H));
                for (int g = 0; g < G; ++g) {
                    const float s = Cell::kScale[g];
                    const bool apart = Cell::kHiddenBiasApart[g];
                    for (int u = 0; u < H; ++u) {
                        const size_t r = static_cast<size_t>(g * H + u);
                        const size_t k = static_cast<size_t>(u / 8), lane = static_cast<size_t>(u % 8);
                        const size_t gl = static_cast<size_t>(g) * 8 + lane;
                        b[k * G * 8 + gl] = s * (apart ? l.bias_ih[r] : l.bias_ih[r] + l.bias_hh[r]);
                        bh[k * G * 8 + gl] = apart ? s * l.bias_hh[r] : 0.0f;
                        for (int c = 0; c < I; ++c)
                            wi[(k * static_cast<size_t>(I) + static_cast<size_t>(c)) * G * 8 + gl] =
                                s * l.weight_ih[r * static_cast<size_t>(I) + static_cast<size_t>(c)];
                        for (int j = 0; j < H; ++j)
                            wh[(k * static_cast<size_t>(H) + static_cast<size_t>(j)) * G * 8 + gl] =
                                s * l.weight_hh[r * static_cast<size_t>(H) + static_cast<size_t>(j)];
                    }
                }
                layers.push_back(PackedLayer{I, wi, b, bh, wh});
            }
            std::copy(head_weight.begin(), head_weight.begin() + H, head.begin());
        }
        Weights(const Weights&) = delete;  // layers point into storage
        Weights& operator=(const Weights&) = delete;
    };

    // Rows 0..kChunk of layer l's hidden states: row 0 holds the state before the chunk, row t + 1
    // the state after its sample t.
    float* hidden_rows(size_t l) {
        return hseq_.data() + l * static_cast<size_t>(kChunk + 1) * static_cast<size_t>(weights_->padded);
    }

    // out[t] = bias + W_ih src[t] for t < T, each group's G gates in a row; src rows `stride` apart.
    template <int kH, class Vec>
    NEURALFX_ALWAYS_INLINE static void project(const PackedLayer& p, int groups, const float* src, int stride, int T,
                                               float* __restrict out) {
        const int I = p.inputs;
        for (int t = 0; t < T; ++t) {
            const float* x = src + t * stride;
            float* o = out + t * groups * G * 8;
            for (int k = 0; k < groups; ++k) {
                Vec acc[G];
                for (int g = 0; g < G; ++g) acc[g] = vec_load<Vec>(p.bias + (k * G + g) * 8);
                const float* __restrict wk = p.wi + k * I * G * 8;
                for (int c = 0; c < I; ++c) {
                    const Vec a = vec_broadcast<Vec>(x[c]);
                    for (int g = 0; g < G; ++g) acc[g] += a * vec_load<Vec>(wk + (c * G + g) * 8);
                }
                for (int g = 0; g < G; ++g) vec_store(o + (k * G + g) * 8, acc[g]);
            }
        }
    }

    // acc += column j of W_hh (NP groups' rows from wk) times h[j], for C channels.
    template <int NP, int C, class Vec>
    NEURALFX_ALWAYS_INLINE static void column(Vec (&acc)[C][NP][G], const float* __restrict wk, int H, int j,
                                              const float* const (&hprev)[C]) {
        Vec b[C];
#pragma GCC unroll 8
        for (int ch = 0; ch < C; ++ch) b[ch] = vec_broadcast<Vec>(hprev[ch][j]);
#pragma GCC unroll 8
        for (int q = 0; q < NP; ++q)
#pragma GCC unroll 8
            for (int g = 0; g < G; ++g) {
                const Vec w = vec_load<Vec>(wk + ((q * H + j) * G + g) * 8);
#pragma GCC unroll 8
                for (int ch = 0; ch < C; ++ch) acc[ch][q][g] += b[ch] * w;
            }
    }

    // One sample's W_hh h for NP groups starting at group k, for C channels, then the cell
    // update of those groups. The accumulators start from the gate inputs (or, for gates whose
    // hidden bias the cell keeps apart, from that bias) and stay in registers for all columns.
    template <int NP, int C, int kH, class Vec>
    NEURALFX_ALWAYS_INLINE static void pass(const PackedLayer& p, int H, int k, const float* const (&hprev)[C],
                                            float* const (&hnew)[C], const float* const (&in)[C], float* const (&c)[C]) {
        Vec acc[C][NP][G];
#pragma GCC unroll 8
        for (int ch = 0; ch < C; ++ch)
#pragma GCC unroll 8
            for (int q = 0; q < NP; ++q)
#pragma GCC unroll 8
                for (int g = 0; g < G; ++g) {
                    const int at = ((k + q) * G + g) * 8;
                    acc[ch][q][g] = vec_load<Vec>(Cell::kHiddenBiasApart[g] ? p.bh + at : in[ch] + at);
                }
        const float* __restrict wk = p.wh + k * H * G * 8;
        if constexpr (kH > 0) {
            // Unrolled whole for compile-time sizes (mono up to 64 columns, stereo pairs only at
            // 8): every weight and h address is a constant offset and the accumulators stay in
            // registers. Pairs unrolled whole at 48-64 units measured slower (stereo GRU-64 0.6-0.7
            // M samples/s against 1.1 M looped), one reason pairs are limited to one group.
#pragma GCC unroll 64
            for (int j = 0; j < kH; ++j) column<NP, C>(acc, wk, kH, j, hprev);
        } else {
            // Run-time sizes: unrolled by 4 (LSTM-36 2.8 M samples/s against 2.6 M not unrolled).
#pragma GCC unroll 4
            for (int j = 0; j < H; ++j) column<NP, C>(acc, wk, H, j, hprev);
        }
#pragma GCC unroll 8
        for (int ch = 0; ch < C; ++ch)
#pragma GCC unroll 8
            for (int q = 0; q < NP; ++q) {
                const int u = (k + q) * 8;
                Cell::template update<Vec>(acc[ch][q], in[ch] + (k + q) * G * 8, c[ch] + u, hprev[ch] + u, hnew[ch] + u);
            }
    }

    // head(h): eight lane-wise partial sums (one Vec8), then a fixed addition tree.
    template <int kH, class Vec>
    NEURALFX_ALWAYS_INLINE static float head(const Weights& w, const float* __restrict h) {
        const int padded = kH > 0 ? round_up(kH, 8) : w.padded;
        const float* __restrict hw = w.head.data();
        Vec acc = vec_load<Vec>(hw) * vec_load<Vec>(h);
        for (int j = 8; j < padded; j += 8) acc += vec_load<Vec>(hw + j) * vec_load<Vec>(h + j);
        float part[8];
        vec_store(part, acc);
        return w.head_bias + (((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7])));
    }

    // C channels (1, or 2 for a stereo pair), each with its own block (state) and audio.
    // Vec: the eight-float type of the copy being compiled (Vec8 for AVX, BaselineVec8 else).
    template <int kH, int C, class Vec>
    NEURALFX_ALWAYS_INLINE static void run(RecurrentBlock* const (&blk)[C], float* const (&audio)[C], int n,
                                           KnobBuffers knobs) {
        const Weights& w = *blk[0]->weights_;
        const int H = kH > 0 ? kH : w.hidden;
        const int padded = kH > 0 ? round_up(kH, 8) : w.padded;
        const int groups = padded / 8;
        constexpr int GP = groups_per_pass(C);
        const int I0 = w.layers[0].inputs;
        const std::vector<int>& cond = blk[0]->conditioning_;
        const int num_cond = static_cast<int>(cond.size());
        const size_t num_layers = w.layers.size();
        for (int start = 0; start < n; start += kChunk) {
            const int T = std::min(kChunk, n - start);
            for (int ch = 0; ch < C; ++ch) {
                float* in = blk[ch]->in_.data();
                for (int t = 0; t < T; ++t) {
                    in[t * I0] = audio[ch][start + t];
                    for (int q = 0; q < num_cond; ++q) in[t * I0 + 1 + q] = knobs[cond[static_cast<size_t>(q)]][start + t];
                }
            }
            for (size_t l = 0; l < num_layers; ++l) {
                const PackedLayer& p = w.layers[l];
                for (int ch = 0; ch < C; ++ch) {
                    RecurrentBlock& b = *blk[ch];
                    if (l == 0) project<kH, Vec>(p, groups, b.in_.data(), I0, T, b.proj_.data());
                    else project<kH, Vec>(p, groups, b.hidden_rows(l - 1) + padded, padded, T, b.proj_.data());
                }
                float* rows[C];
                float* cell[C];
                for (int ch = 0; ch < C; ++ch) {
                    rows[ch] = blk[ch]->hidden_rows(l);
                    cell[ch] = blk[ch]->c_.data() + l * static_cast<size_t>(padded);
                }
                for (int t = 0; t < T; ++t) {
                    const float* hprev[C];
                    float* hnew[C];
                    const float* in[C];
                    for (int ch = 0; ch < C; ++ch) {
                        hprev[ch] = rows[ch] + t * padded;
                        hnew[ch] = rows[ch] + (t + 1) * padded;
                        in[ch] = blk[ch]->proj_.data() + t * groups * G * 8;
                    }
                    int k = 0;
                    for (; k + GP <= groups; k += GP) pass<GP, C, kH, Vec>(p, H, k, hprev, hnew, in, cell);
                    for (; k < groups; ++k) pass<1, C, kH, Vec>(p, H, k, hprev, hnew, in, cell);
                }
                for (int ch = 0; ch < C; ++ch) std::copy(rows[ch] + T * padded, rows[ch] + (T + 1) * padded, rows[ch]);
            }
            for (int ch = 0; ch < C; ++ch) {
                // Row 0 now holds the chunk's last state; rows 1..T are still the chunk's states.
                const float* rows = blk[ch]->hidden_rows(num_layers - 1);
                const float* in = blk[ch]->in_.data();
                for (int t = 0; t < T; ++t) {
                    const float y = head<kH, Vec>(w, rows + (t + 1) * padded);
                    audio[ch][start + t] = blk[ch]->skip_ ? y + in[t * I0] : y;
                }
            }
        }
    }

    template <int kH>
    static void mono_baseline(RecurrentBlock& self, float* audio, int n, KnobBuffers knobs) {
        run<kH, 1, BaselineVec8>({&self}, {audio}, n, knobs);
    }
    template <int kH>
    static void pair_baseline(RecurrentBlock& a, RecurrentBlock& b, float* xa, float* xb, int n, KnobBuffers knobs) {
        run<kH, 2, BaselineVec8>({&a, &b}, {xa, xb}, n, knobs);
    }
#if NEURALFX_RUNTIME_DISPATCH
    // The same code, compiled for AVX2+FMA: run() and everything it calls is inlined here.
    template <int kH>
    NEURALFX_TARGET_AVX2_FMA static void mono_avx2_fma(RecurrentBlock& self, float* audio, int n, KnobBuffers knobs) {
        run<kH, 1, Vec8>({&self}, {audio}, n, knobs);
    }
    template <int kH>
    NEURALFX_TARGET_AVX2_FMA static void pair_avx2_fma(RecurrentBlock& a, RecurrentBlock& b, float* xa, float* xb, int n,
                                                       KnobBuffers knobs) {
        run<kH, 2, Vec8>({&a, &b}, {xa, xb}, n, knobs);
    }
#endif
    template <int kH>
    static Kernels kernels() {
        // The paired loop is compiled only for sizes that pair (and for run-time sizes).
        constexpr bool paired = kH == 0 || pairing_pays(kH);
#if NEURALFX_RUNTIME_DISPATCH
        if (dispatch_avx2_fma()) {
            if constexpr (paired) return {&mono_avx2_fma<kH>, &pair_avx2_fma<kH>};
            else return {&mono_avx2_fma<kH>, nullptr};
        }
#endif
        if constexpr (paired) return {&mono_baseline<kH>, &pair_baseline<kH>};
        else return {&mono_baseline<kH>, nullptr};
    }

    int hidden_;
    std::vector<int> conditioning_;
    bool skip_;
    std::shared_ptr<const Weights> weights_;
    Kernels kernels_;
    std::vector<float> in_;    // layer 0's input rows [x, knobs...] of the current chunk
    std::vector<float> proj_;  // the current layer's gate inputs (bias + W_ih input) for the chunk
    std::vector<float> hseq_;  // per layer kChunk + 1 rows of hidden state, padded floats each
    std::vector<float> c_;     // per layer cell state (LSTM), padded floats each
};

}  // namespace neuralfx
