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
//    product is independent work instead of part of the chain. (LSTM's first layer in 16-lane
//    groups sums its few inputs inside the pass instead: see kInputsInPass in run().)
//  - Gate rows in groups of L hidden units, L the lanes of one vector register (8 for AVX2,
//    16 for AVX-512): all G gates of L units are G vector accumulators, filled by broadcasting
//    h[j] against column j of W_hh (no horizontal adds). The cell update runs on the
//    accumulators as soon as a group is summed, so gates never go through memory. Groups go GP
//    at a time, as many as the copy's accumulator budget allows (8 or 12 of AVX2's 16
//    registers, 16 of AVX-512's 32), so enough independent FMA chains are in flight.
//  - Two channels of one model (stereo) run in one loop (process_pair) when the hidden size is
//    one group of 8: a mono pass then has too few accumulators to cover the FMA latency, and the
//    other channel's chains fill the gaps (AVX2: LSTM-8 stereo 1.6x two mono runs). From two
//    groups on, a mono pass already has 8 chains, and on AVX2 the paired loop measured slower
//    than two mono runs (block 64: LSTM-32 4-8 %, LSTM-48 and GRU-64 15-30 %), so channels
//    run alone. The 16-lane copies run hidden sizes above 16 only (kernels()), so never pair.
//  - Hidden sizes in Specialized get the code instantiated with H known at compile time; any
//    other size runs the same template with H read at run time.
//  - Branch-free tanh/sigmoid (activations.hpp) on whole vectors.
//  - The hot loop is compiled for the x86-64 baseline, for AVX2+FMA and for AVX-512 (and once
//    more in the AVX-512 layout for AVX2, to test that layout where AVX-512 is missing); the
//    copy is picked at construction from the CPU (cpu_dispatch.hpp), and the weights are packed
//    for its group width.
// Within one copy, the arithmetic per sample never depends on the block size or on whether a
// channel runs alone or paired, so any block split and stereo give bit-identical output. The
// copies differ in the order of the head's final sum only (lane partial sums of 8 or 16).

#include <algorithm>
#include <cstddef>
#include <memory>
#include <type_traits>
#include <vector>

#include "../activations.hpp"
#include "../aligned.hpp"
#include "../block.hpp"
#include "../cpu_dispatch.hpp"
#include "../vec16.hpp"
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
          kernels_(Specialized::select(hidden_size)),
          weights_(std::make_shared<Weights>(hidden_size, kernels_.lanes, layers, head_weight, head_bias)) {
        const size_t padded = static_cast<size_t>(weights_->padded);
        const size_t num_layers = layers.size();
        in_.assign(static_cast<size_t>(kChunk) * static_cast<size_t>(weights_->layers[0].inputs), 0.0f);
        proj_.assign(static_cast<size_t>(kChunk) * padded * G, 0.0f);
        hseq_.assign(num_layers * static_cast<size_t>(kChunk + 1) * padded, 0.0f);
        c_.assign(num_layers * padded, 0.0f);
        saved_hseq_ = hseq_;
        saved_c_ = c_;
        reset();
    }

    void prepare(int) override { reset(); }

    void reset() override {
        std::fill(hseq_.begin(), hseq_.end(), 0.0f);
        std::fill(c_.begin(), c_.end(), 0.0f);
    }
    void save_state() override {
        std::copy(hseq_.begin(), hseq_.end(), saved_hseq_.begin());
        std::copy(c_.begin(), c_.end(), saved_c_.begin());
    }
    void restore_state() override {
        std::copy(saved_hseq_.begin(), saved_hseq_.end(), hseq_.begin());
        std::copy(saved_c_.begin(), saved_c_.end(), c_.begin());
    }

    void process(float* audio, int n, KnobBuffers knobs) override {
        RecurrentBlock* const blocks[1] = {this};
        kernels_.mono(blocks, &audio, n, knobs);
    }

    // Pairs only with a clone of the same prototype (same weights): the other channel.
    bool process_pair(Block& other, float* a, float* b, int n, KnobBuffers knobs) override {
        auto* o = dynamic_cast<RecurrentBlock*>(&other);
        if (!pairs_channels() || o == nullptr || o == this || o->weights_ != weights_) return false;
        RecurrentBlock* const blocks[2] = {this, o};
        float* const audio[2] = {a, b};
        kernels_.pair(blocks, audio, n, knobs);
        return true;
    }

    // Clones share the (read-only) weights, so a stereo model keeps one copy in cache.
    std::unique_ptr<Block> clone() const override {
        auto copy = std::make_unique<RecurrentBlock>(*this);
        copy->reset();
        return copy;
    }

    // One compiled copy's entry point for C channels (C blocks and C audio buffers; C = 1 for
    // mono, 2 for a pair).
    using RunFn = void (*)(RecurrentBlock* const*, float* const*, int, KnobBuffers);
    struct Kernels {
        RunFn mono;
        RunFn pair;  // null where the copy does not pair this hidden size
        int lanes;   // units per group, the width the weights are packed for
    };

    template <int... Hs>
    struct SizeList {
        static constexpr bool contains(int h) { return ((h == Hs) || ...); }
        // The compile-time-sized code for h when it is in the list, else the run-time-sized code.
        static Kernels select(int h) {
            Kernels k = kernels<0>(h);
            (void)((h == Hs ? (k = kernels<Hs>(h), true) : false) || ...);
            return k;
        }
    };
    // Hidden sizes compiled with H as a constant; the list is the one place they are named.
    using Specialized = SizeList<8, 12, 16, 20, 24, 32, 40, 48, 64>;

    bool compile_time_sized() const { return Specialized::contains(hidden_); }

    // Per layer W_ih and W_hh (G x H rows over the layer's inputs and H), then the head's H.
    long long multiply_adds_per_sample() const override {
        const long long H = hidden_;
        long long total = H;
        for (const PackedLayer& l : weights_->layers) total += G * H * (l.inputs + H);
        return total;
    }

    // Whether process_pair runs two channels in one loop (see the header comment).
    bool pairs_channels() const { return kernels_.pair != nullptr; }
    // Units per group of the compiled copy this block runs (8: AVX2 or baseline; 16: AVX-512).
    int lanes() const { return kernels_.lanes; }

private:
    // Samples per chunk: the input products of a chunk are computed before its recurrence.
    // 16 keeps a chunk's buffers (for H = 64, 16 x 4 x 64 floats of gate inputs) in L1.
    static constexpr int kChunk = 16;
    static constexpr int round_up(int v, int m) { return (v + m - 1) / m * m; }
    template <class Vec>
    static constexpr int kLanes = static_cast<int>(sizeof(Vec) / sizeof(float));
    // Whether any gate's hidden bias is kept apart (GRU's n): its update then reads the projected
    // gate input from memory.
    static constexpr bool keeps_bias_apart() {
        for (bool apart : Cell::kHiddenBiasApart)
            if (apart) return true;
        return false;
    }
    // Groups per pass: as many accumulators (G x GP x C) as the copy's budget kAcc allows, which
    // keeps both FMA pipes busy while leaving registers for the broadcasts. Compile-time sizes
    // spread their groups evenly over the fewest passes: a pass of one group holds only G chains
    // as deep as the hidden size and is latency-bound (LSTM-32 on a budget of 12 runs two passes
    // of two groups, not three and one).
    template <int kH, int C, int kAcc, int L>
    static constexpr int groups_per_pass() {
        const int budget = G * C >= kAcc ? 1 : kAcc / (G * C);
        if (kH <= 0) return budget;
        const int groups = round_up(kH, L) / L;
        const int passes = (groups + budget - 1) / budget;
        return (groups + passes - 1) / passes;
    }
    // The AVX2 copy's budget. Compile-time sizes up to 32 take 12, so three or four groups run as
    // one pass where a budget of 8 split them into two (GRU-20/24/32, LSTM-20/24); the cell
    // update's temporaries then spill, but the column loop is the longer part. A/B on the Zen 3
    // VM, block 64, medians of per-round ratios (9-15 rounds a run, two or three runs): GRU-20
    // 1.19-1.27x, GRU-24 1.20-1.27x, GRU-32 1.02-1.05x, LSTM-24 1.03-1.07x. Above 32 a budget of
    // 12 measured mixed (GRU-40 0.96x, LSTM-48 1.08x); run-time sizes were not measured with it
    // and keep 8.
    template <int kH>
    static constexpr int kAvx2Acc = kH > 0 && kH <= 32 ? 12 : 8;

    struct PackedLayer {
        int inputs = 0;
        const float* wi = nullptr;    // [group][input][gate][8]
        const float* bias = nullptr;  // [group][gate][8]: the input-side bias (b_ih, plus b_hh unless kept apart)
        const float* bh = nullptr;    // [group][gate][8]: b_hh of the gates the cell keeps apart (GRU's n), else 0
        const float* wh = nullptr;    // [group][column][gate][8]
    };

    // Packed, read-only after construction, all gate rows scaled by Cell::kScale (1/2 for the
    // sigmoid gates, so the cell computes sigmoid(v) = (1 + tanh(v/2)) / 2 with one tanh;
    // halving is exact in float). Unit u of gate g is lane u % L of group u / L (L = lanes); the
    // lanes past H (sizes that are not a multiple of L) hold zeros, which keep those units' h at 0.
    struct Weights {
        int hidden = 0;
        int padded = 0;  // H rounded up to the group width L
        std::vector<PackedLayer> layers;
        AlignedFloats head;  // padded entries, zero after H
        float head_bias = 0.0f;
        AlignedFloats storage;  // all layers' weights and biases, each array on a cache line

        Weights(int H, int L, const std::vector<Layer>& src, const std::vector<float>& head_weight, float bias)
            : hidden(H), padded(round_up(H, L)), head(static_cast<size_t>(round_up(H, L)), 0.0f), head_bias(bias) {
            constexpr size_t kAlign = kCacheLineBytes / sizeof(float);
            const size_t lane_count = static_cast<size_t>(L);
            const size_t groups = static_cast<size_t>(padded / L);
            auto aligned = [&](size_t v) { return (v + kAlign - 1) / kAlign * kAlign; };
            const size_t per_gate_set = groups * G * lane_count;
            size_t total = 0;
            for (const Layer& l : src)
                total += aligned(per_gate_set * static_cast<size_t>(l.input_size)) + 2 * aligned(per_gate_set) +
                         aligned(per_gate_set * static_cast<size_t>(H));
            storage.assign(total, 0.0f);
            float* next = storage.data();
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
                        const size_t k = static_cast<size_t>(u / L), lane = static_cast<size_t>(u % L);
                        const size_t gl = static_cast<size_t>(g) * lane_count + lane;
                        const size_t set = G * lane_count;  // floats per column of a group
                        b[k * set + gl] = s * (apart ? l.bias_ih[r] : l.bias_ih[r] + l.bias_hh[r]);
                        bh[k * set + gl] = apart ? s * l.bias_hh[r] : 0.0f;
                        for (int c = 0; c < I; ++c)
                            wi[(k * static_cast<size_t>(I) + static_cast<size_t>(c)) * set + gl] =
                                s * l.weight_ih[r * static_cast<size_t>(I) + static_cast<size_t>(c)];
                        for (int j = 0; j < H; ++j)
                            wh[(k * static_cast<size_t>(H) + static_cast<size_t>(j)) * set + gl] =
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

    // acc = bias + W_ih x for the G gates of group k.
    template <class Vec>
    NEURALFX_ALWAYS_INLINE static void input_sums(const PackedLayer& p, int k, const float* x, Vec (&acc)[G]) {
        constexpr int L = kLanes<Vec>;
        const int I = p.inputs;
        for (int g = 0; g < G; ++g) acc[g] = vec_load<Vec>(p.bias + (k * G + g) * L);
        const float* __restrict wk = p.wi + k * I * G * L;
        for (int c = 0; c < I; ++c) {
            // From memory: from vec_broadcast<Vec>(x[c]) GCC 12 built the value lane by lane, 16
            // masked broadcasts and their mask moves for Vec16 (~47 cycles per LSTM-32 sample on a
            // Zen 4 EPYC; LSTM-24/32 and GRU-32 1.05-1.06x once fixed), 8 inserts for Vec8.
            const Vec a = vec_broadcast_from<Vec>(x + c);
            for (int g = 0; g < G; ++g) acc[g] += a * vec_load<Vec>(wk + (c * G + g) * L);
        }
    }

    // out[t] = bias + W_ih src[t] for t < T, each group's G gates in a row; src rows `stride` apart.
    template <class Vec>
    NEURALFX_ALWAYS_INLINE static void project(const PackedLayer& p, int groups, const float* src, int stride, int T,
                                               float* __restrict out) {
        constexpr int L = kLanes<Vec>;
        for (int t = 0; t < T; ++t) {
            float* o = out + t * groups * G * L;
            for (int k = 0; k < groups; ++k) {
                Vec acc[G];
                input_sums<Vec>(p, k, src + t * stride, acc);
                for (int g = 0; g < G; ++g) vec_store(o + (k * G + g) * L, acc[g]);
            }
        }
    }

    // *h in every lane, as one broadcast from memory. Vec16 needs the assembly form (vec16.hpp:
    // GCC permuted lanes of a vector load instead), and so do run-time sizes (kH = 0): from the
    // plain form GCC built each broadcast from 4 vinsertps and a vinsertf128 in their column loop
    // (AVX2 copy on the Zen 4 EPYC, paired rounds: LSTM-36 1.10x, GRU-36 1.21x with the assembly
    // form). For compile-time sizes GCC makes one broadcast from the plain form, and the assembly
    // form there gave the AVX2 copy more stack traffic.
    template <int kH, class Vec>
    NEURALFX_ALWAYS_INLINE static Vec broadcast_h(const float* h) {
        if constexpr (kH == 0 || sizeof(Vec) == 64) return vec_broadcast_from<Vec>(h);
        else return vec_broadcast<Vec>(*h);
    }

    // acc += column j of W_hh (NP groups' rows from wk) times h[j], for C channels.
    template <int NP, int C, int kH, class Vec>
    NEURALFX_ALWAYS_INLINE static void column(Vec (&acc)[C][NP][G], const float* __restrict wk, int H, int j,
                                              const float* const (&hprev)[C]) {
        Vec b[C];
#pragma GCC unroll 8
        for (int ch = 0; ch < C; ++ch) b[ch] = broadcast_h<kH, Vec>(hprev[ch] + j);
#pragma GCC unroll 8
        for (int q = 0; q < NP; ++q)
#pragma GCC unroll 8
            for (int g = 0; g < G; ++g) {
                const Vec w = vec_load<Vec>(wk + ((q * H + j) * G + g) * kLanes<Vec>);
#pragma GCC unroll 8
                for (int ch = 0; ch < C; ++ch) acc[ch][q][g] += b[ch] * w;
            }
    }

    // p, made unknown to the optimizer until `sample` is: the weights' address then cannot be
    // hoisted out of the sample loop, nor their loads with it. GCC 12 for 64-bit ARM hoisted
    // the loads of W_hh, which do not fit NEON's 32 registers, and reloaded them from the stack
    // every sample (LSTM-32: 1184 stack references of vector registers in the copy; 411 with
    // this, objdump). x86's FMAs read weights from memory, so the AVX copies barely change
    // (paired rounds 0.99-1.03x, noise); the SSE2 baseline copy measured 1.03-1.05x.
    // GCC only: Clang's NEON code did not hoist those loads and spilled more with it (LSTM-32
    // 400 -> 536 references).
    template <class T>
    NEURALFX_ALWAYS_INLINE static T* after_sample_start(T* p, const float* sample) {
#if defined(__GNUC__) && !defined(__clang__)
        asm("" : "+r"(p) : "r"(sample));
#else
        (void)sample;
#endif
        return p;
    }

    // One sample's W_hh h for NP groups starting at group k, for C channels, then the cell
    // update of those groups. The accumulators start from the gate inputs (or, for gates whose
    // hidden bias the cell keeps apart, from that bias) and stay in registers for all columns.
    // kFromInputs: in holds the layer's inputs, not their projected gate sums, and the pass
    // computes the sums itself (cells that keep no bias apart only).
    template <int NP, int C, int kH, class Vec, bool kFromInputs>
    NEURALFX_ALWAYS_INLINE static void pass(const PackedLayer& p, int H, int k, const float* const (&hprev)[C],
                                            float* const (&hnew)[C], const float* const (&in)[C], float* const (&c)[C]) {
        constexpr int L = kLanes<Vec>;
        static_assert(!(kFromInputs && keeps_bias_apart()), "the update reads projected gate inputs from `in`");
        Vec acc[C][NP][G];
#pragma GCC unroll 8
        for (int ch = 0; ch < C; ++ch)
#pragma GCC unroll 8
            for (int q = 0; q < NP; ++q) {
                if constexpr (kFromInputs) {
                    input_sums<Vec>(p, k + q, in[ch], acc[ch][q]);
                } else {
#pragma GCC unroll 8
                    for (int g = 0; g < G; ++g) {
                        const int at = ((k + q) * G + g) * L;
                        acc[ch][q][g] = vec_load<Vec>(Cell::kHiddenBiasApart[g] ? p.bh + at : in[ch] + at);
                    }
                }
            }
        const float* __restrict wk = after_sample_start(p.wh + k * H * G * L, hprev[0]);
        if constexpr (kH > 0) {
            // Unrolled whole for compile-time sizes (mono up to 64 columns, stereo pairs only at
            // one group): every weight and h address is a constant offset and the accumulators stay in
            // registers. Pairs unrolled whole at 48-64 units measured slower (stereo GRU-64 0.6-0.7
            // M samples/s against 1.1 M looped), one reason pairs are limited to one group.
#pragma GCC unroll 64
            for (int j = 0; j < kH; ++j) column<NP, C, kH>(acc, wk, kH, j, hprev);
        } else {
            // Run-time sizes: unrolled by 4 (LSTM-36 2.8 M samples/s against 2.6 M not unrolled).
#pragma GCC unroll 4
            for (int j = 0; j < H; ++j) column<NP, C, kH>(acc, wk, H, j, hprev);
        }
#pragma GCC unroll 8
        for (int ch = 0; ch < C; ++ch)
#pragma GCC unroll 8
            for (int q = 0; q < NP; ++q) {
                const int u = (k + q) * L;
                Cell::template update<Vec>(acc[ch][q], in[ch] + (k + q) * G * L, c[ch] + u, hprev[ch] + u, hnew[ch] + u);
            }
    }

    // The passes over all groups of one sample: GP groups at a time, then the rest one by one.
    template <int GP, int C, int kH, class Vec, bool kFromInputs>
    NEURALFX_ALWAYS_INLINE static void passes(const PackedLayer& p, int H, int groups, const float* const (&hprev)[C],
                                              float* const (&hnew)[C], const float* const (&in)[C],
                                              float* const (&c)[C]) {
        int k = 0;
        for (; k + GP <= groups; k += GP) pass<GP, C, kH, Vec, kFromInputs>(p, H, k, hprev, hnew, in, c);
        for (; k < groups; ++k) pass<1, C, kH, Vec, kFromInputs>(p, H, k, hprev, hnew, in, c);
    }

    // head(h): L lane-wise partial sums (one vector), halved to 8, then a fixed addition tree
    // (sum_lanes).
    template <int kH, class Vec>
    NEURALFX_ALWAYS_INLINE static float head(const Weights& w, const float* __restrict h) {
        constexpr int L = kLanes<Vec>;
        const int padded = kH > 0 ? round_up(kH, L) : w.padded;
        const float* __restrict hw = w.head.data();
        Vec acc = vec_load<Vec>(hw) * vec_load<Vec>(h);
        for (int j = L; j < padded; j += L) acc += vec_load<Vec>(hw + j) * vec_load<Vec>(h + j);
        return w.head_bias + sum_lanes(acc);
    }

    // C channels (1, or 2 for a stereo pair), each with its own block (state) and audio.
    // Vec: the vector type of the copy being compiled (its lanes are the group width); kAcc:
    // the copy's accumulator budget.
    template <int kH, int C, class Vec, int kAcc>
    NEURALFX_ALWAYS_INLINE static void run(RecurrentBlock* const* blk, float* const* audio, int n, KnobBuffers knobs) {
        constexpr int L = kLanes<Vec>;
        const Weights& w = *blk[0]->weights_;
        const int H = kH > 0 ? kH : w.hidden;
        const int padded = kH > 0 ? round_up(kH, L) : w.padded;
        const int groups = padded / L;
        constexpr int GP = groups_per_pass<kH, C, kAcc, L>();
        // Layer 0's gate inputs (audio and knobs: few inputs) summed inside the pass instead of
        // projected for the chunk first, which saves storing and reloading them: LSTM in 16-lane
        // groups on the Zen 4 EPYC (paired rounds, block 64) 1.06x for LSTM-24/32. In the 8-lane
        // copies it lost below 32 units (AVX2 on the same machine: LSTM-16 0.82x, LSTM-24 0.79x)
        // and gained a little from 32 (AVX2: LSTM-32 1.04x, 1.04x and 1.04x in three runs, LSTM-40
        // 1.02x, LSTM-48/64 1.00x; baseline copy: LSTM-32/40/48 1.01-1.04x), so there it starts
        // at compile-time sizes of 32. (Not measured on a CPU without AVX-512.)
        constexpr bool kInputsInPass = (L == 16 || kH >= 32) && !keeps_bias_apart();
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
                const bool inputs_in_pass = kInputsInPass && l == 0;
                for (int ch = 0; ch < C; ++ch) {
                    RecurrentBlock& b = *blk[ch];
                    if (l > 0) project<Vec>(p, groups, b.hidden_rows(l - 1) + padded, padded, T, b.proj_.data());
                    else if (!inputs_in_pass) project<Vec>(p, groups, b.in_.data(), I0, T, b.proj_.data());
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
                        in[ch] = inputs_in_pass ? blk[ch]->in_.data() + t * I0 : blk[ch]->proj_.data() + t * groups * G * L;
                    }
                    // The pass with kFromInputs is compiled only where the cell allows it.
                    if constexpr (kInputsInPass) {
                        if (inputs_in_pass) {
                            passes<GP, C, kH, Vec, true>(p, H, groups, hprev, hnew, in, cell);
                            continue;
                        }
                    }
                    passes<GP, C, kH, Vec, false>(p, H, groups, hprev, hnew, in, cell);
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

    // The compiled copies (cpu_dispatch.hpp): run() with a vector type Vec and an accumulator
    // budget kAcc, inside a function compiled for an instruction set; one struct per instruction
    // set, because the target attribute cannot be a template argument.
    template <int kH, int C, class Vec, int kAcc>
    struct BaselineCopy {
        static void run_copy(RecurrentBlock* const* blk, float* const* audio, int n, KnobBuffers knobs) {
            run<kH, C, Vec, kAcc>(blk, audio, n, knobs);
        }
    };
#if NEURALFX_RUNTIME_DISPATCH
    template <int kH, int C, class Vec, int kAcc>
    struct Avx2Copy {
        NEURALFX_TARGET_AVX2_FMA static void run_copy(RecurrentBlock* const* blk, float* const* audio, int n,
                                                      KnobBuffers knobs) {
            run<kH, C, Vec, kAcc>(blk, audio, n, knobs);
        }
    };
    template <int kH, int C, class Vec, int kAcc>
    struct Avx512Copy {
        NEURALFX_TARGET_AVX512 static void run_copy(RecurrentBlock* const* blk, float* const* audio, int n,
                                                    KnobBuffers knobs) {
            run<kH, C, Vec, kAcc>(blk, audio, n, knobs);
        }
    };
#endif
    // A copy's kernels. Channels pair only when the hidden size is one group (header comment):
    // the paired loop is compiled for those sizes and for run-time sizes. The 16-lane copies run
    // only sizes of two groups or more (wide_or_avx2), so they never pair.
    template <int kH, template <int, int, class, int> class Copy, class Vec, int kAcc>
    static Kernels kernels_of(int hidden) {
        constexpr int L = kLanes<Vec>;
        using Mono = Copy<kH, 1, Vec, kAcc>;
        if constexpr (L == 8 && (kH == 0 || kH <= L))
            return {&Mono::run_copy, hidden <= L ? &Copy<kH, 2, Vec, kAcc>::run_copy : nullptr, L};
        else return {&Mono::run_copy, nullptr, L};
    }
    // One group of 16 units holds only G accumulator chains, each as deep as the hidden size, and
    // is latency-bound: on the Xeon of docs/PERFORMANCE-xeon.md LSTM-16 ran 10.4 M samples/s in
    // 16-lane groups against 12.5 M in the AVX2 copy's two groups of 8. Such sizes keep that copy.
    static constexpr bool wide_possible(int hidden) { return hidden > 16; }
    // Where a 16-lane group costs two groups of 8 (half_rate_512, cpu_dispatch.hpp), the lanes
    // padded past H cost in full. Measured on the Zen 4 EPYC (block 64, the two copies of one
    // binary alternating, 3 runs each; 16-lane / 8-lane rate for LSTM, GRU): where 16-lane groups
    // pad more than 8-lane ones they lost at 18 (0.89x, 0.93x), 20 (0.93x, 0.84x), 24 (0.92x,
    // 0.82x), 36 (1.01x, 0.96x), 52 (0.89x, 0.86x) and 56 (0.88x, 0.93x), and won at 40 (1.05x,
    // 1.12x; compile-time sized, where the 8-lane copy runs its fifth group in a pass of its own);
    // where they pad no more they won or tied: 28 (1.10x, 1.04x), 32 (1.23x, 1.08x), 44 (1.05x,
    // 1.07x), 48 (1.37x, 1.24x), 60 (1.01x, 0.99x), 64 (1.05x, 1.02x).
    static constexpr bool wide_pays(int hidden, bool half_rate_512) {
        if (!half_rate_512) return wide_possible(hidden);
        return hidden > 24 && (round_up(hidden, 16) == round_up(hidden, 8) || Specialized::contains(hidden));
    }
#if NEURALFX_RUNTIME_DISPATCH
    // The AVX2 copy, with its budget for this size.
    template <int kH>
    static Kernels avx2_kernels(int hidden) {
        return kernels_of<kH, Avx2Copy, Vec8, kAvx2Acc<kH>>(hidden);
    }
    // A 16-lane copy (Wide with Vec: AVX-512, or its layout on AVX2) for sizes where it pays,
    // else the AVX2 copy.
    template <int kH, template <int, int, class, int> class Wide, class Vec>
    static Kernels wide_or_avx2(int hidden) {
        if constexpr (kH == 0 || wide_possible(kH)) {
            if (wide_pays(hidden, hot_loop_choice().half_rate_512)) return kernels_of<kH, Wide, Vec, 16>(hidden);
        }
        return avx2_kernels<kH>(hidden);
    }
#endif
    template <int kH>
    static Kernels kernels(int hidden) {
        switch (dispatched_hot_loops()) {
#if NEURALFX_RUNTIME_DISPATCH
            case HotLoops::avx512: return wide_or_avx2<kH, Avx512Copy, Vec16>(hidden);
            case HotLoops::avx2_wide16: return wide_or_avx2<kH, Avx2Copy, Vec8x2>(hidden);
            case HotLoops::avx2_fma: return avx2_kernels<kH>(hidden);
#endif
            default: return kernels_of<kH, BaselineCopy, BaselineVec8, 8>(hidden);
        }
    }

    int hidden_;
    std::vector<int> conditioning_;
    bool skip_;
    Kernels kernels_;  // before weights_: the weights are packed for its lanes
    std::shared_ptr<const Weights> weights_;
    // Cache-line aligned (aligned.hpp), so that no group's vector of h, c or gate inputs
    // straddles two lines.
    AlignedFloats in_;    // layer 0's input rows [x, knobs...] of the current chunk
    AlignedFloats proj_;  // the current layer's gate inputs (bias + W_ih input) for the chunk
    AlignedFloats hseq_;  // per layer kChunk + 1 rows of hidden state, padded floats each
    AlignedFloats c_;     // per layer cell state (LSTM), padded floats each
    AlignedFloats saved_hseq_, saved_c_;  // save_state()'s copies, sized with them
};

}  // namespace neuralfx
