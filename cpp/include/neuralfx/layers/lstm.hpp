#pragma once
// LSTM amp model: stacked LSTM over [audio, conditioning knobs...], a linear head, and an
// optional input skip (y = head(h) + x). Twin of neuralfx/models/lstm.py; the gate order and
// equations are PyTorch's nn.LSTM (i, f, g, o).
//
// Speed comes from four choices:
//  - The 4H gate pre-activations of one step are one matrix-vector product over
//    [1, x, knobs..., h] (column 0 holds the bias), stored in tiles of T gate rows, column by
//    column inside a tile. The inner loop multiplies one broadcast input by T/8 Vec8 (AVX
//    register) columns of weights; the accumulators stay in registers for the whole tile.
//  - Hidden sizes in LSTM::Specialized get that code instantiated with H known at compile
//    time (fully unrolled); any other size runs the same template with H read at run time.
//  - Branch-free tanh/sigmoid (activations.hpp), so the gate and cell loops vectorize too
//    (the cell loop needs -fno-trapping-math, set in CMakeLists.txt).
//  - The hot loop is compiled twice, for the x86-64 baseline and for AVX2+FMA, and the copy
//    is picked at construction from the CPU (cpu_dispatch.hpp).
// The arithmetic per sample never depends on the block size, so any block split gives
// bit-identical output.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../activations.hpp"
#include "../block.hpp"
#include "../cpu_dispatch.hpp"
#include "recurrent_weights.hpp"

namespace neuralfx {

class LSTM final : public Block {
public:
    using Layer = RecurrentLayerWeights;

    // conditioning: indices into the model's knob list, in the order the network sees them.
    LSTM(int hidden_size, std::vector<Layer> layers, std::vector<float> head_weight, float head_bias,
         std::vector<int> conditioning, bool skip)
        : hidden_(hidden_size),
          conditioning_(std::move(conditioning)),
          skip_(skip),
          weights_(std::make_shared<Weights>(hidden_size, layers, head_weight, head_bias)),
          process_(Specialized::select(hidden_size)) {
        xh_.assign(static_cast<size_t>(weights_->xh_size), 0.0f);
        c_.assign(layers.size() * static_cast<size_t>(weights_->h_stride), 0.0f);
        z_.assign(static_cast<size_t>(weights_->rows), 0.0f);
        reset();
    }

    void prepare(int) override { reset(); }

    void reset() override {
        std::fill(xh_.begin(), xh_.end(), 0.0f);
        for (const PackedLayer& p : weights_->layers) xh_[static_cast<size_t>(p.xh_offset)] = 1.0f;  // bias input
        std::fill(c_.begin(), c_.end(), 0.0f);
    }

    void process(float* audio, int n, KnobBuffers knobs) override { process_(*this, audio, n, knobs); }

    // Clones share the (read-only) weights, so a stereo model keeps one copy in cache.
    std::unique_ptr<Block> clone() const override {
        auto copy = std::make_unique<LSTM>(*this);
        copy->reset();
        return copy;
    }

    using ProcessFn = void (*)(LSTM&, float*, int, KnobBuffers);

    template <int... Hs>
    struct SizeList {
        static constexpr bool contains(int h) { return ((h == Hs) || ...); }
        // The compile-time-sized code for h when it is in the list, else the run-time-sized code.
        static ProcessFn select(int h) {
            ProcessFn f = variant<0>();
            (void)((h == Hs ? (f = variant<Hs>(), true) : false) || ...);
            return f;
        }
    };
    // Hidden sizes compiled with H as a constant; the list is the one place they are named.
    using Specialized = SizeList<8, 12, 16, 20, 24, 32, 40, 48, 64>;

    bool compile_time_sized() const { return Specialized::contains(hidden_); }

private:

    // Gate rows per tile for a compile-time hidden size (0: sized at run time). The largest
    // multiple of 8 (one AVX register) up to 64 (8 registers of accumulators, leaving half the
    // register file for weights and broadcasts) that divides 4H; run-time sizes use 32 and pad
    // the gate rows with zeros to a whole number of tiles.
    static constexpr int tile_rows(int fixed_hidden) {
        if (fixed_hidden > 0)
            for (int t = 64; t >= 8; t -= 8)
                if ((4 * fixed_hidden) % t == 0) return t;
        return 32;
    }
    static constexpr int round_up(int v, int m) { return (v + m - 1) / m * m; }

    struct PackedLayer {
        int input_size = 0;
        int columns = 0;          // 1 + input_size + H
        int xh_offset = 0;        // where this layer's [1, input, h] vector starts in xh_
        const float* w = nullptr;  // [tile][column][row in tile]
    };

    // Packed, read-only after construction. Rows i, f, o are pre-scaled by 1/2 so the cell
    // computes sigmoid(v) = (1 + tanh(v/2)) / 2 with one tanh; halving is exact in float, so
    // the pre-activations equal v/2 bit for bit.
    struct Weights {
        int tile = 0;
        int rows = 0;      // 4H rounded up to whole tiles
        int h_stride = 0;  // H rounded up to 8: the head's dot product runs in whole registers
        int xh_size = 0;   // all layers' [1, input, h] vectors, each followed by zeros to h_stride
        std::vector<PackedLayer> layers;
        std::vector<float> head;  // h_stride entries, zero-padded
        float head_bias = 0.0f;
        std::vector<float> storage;  // all layers' weights and biases, 64-byte aligned inside

        Weights(int H, const std::vector<Layer>& src, const std::vector<float>& head_weight, float bias)
            : tile(tile_rows(Specialized::contains(H) ? H : 0)),
              rows(round_up(4 * H, tile)),
              h_stride(round_up(H, 8)),
              head(static_cast<size_t>(h_stride), 0.0f),
              head_bias(bias) {
            constexpr size_t kAlign = 16;  // floats: 64 bytes, one cache line
            std::vector<size_t> offsets;
            size_t total = 0;
            for (const Layer& l : src) {
                offsets.push_back(total);
                total += static_cast<size_t>(rows) * static_cast<size_t>(1 + l.input_size + H);
                total = (total + kAlign - 1) / kAlign * kAlign;
            }
            storage.assign(total + kAlign, 0.0f);  // slack to align the start
            const size_t misalign = (reinterpret_cast<std::uintptr_t>(storage.data()) / sizeof(float)) % kAlign;
            float* base = storage.data() + (misalign ? kAlign - misalign : 0);
            for (size_t li = 0; li < src.size(); ++li) {
                const Layer& l = src[li];
                PackedLayer p;
                p.input_size = l.input_size;
                p.columns = 1 + l.input_size + H;
                p.xh_offset = xh_size;
                xh_size += 1 + l.input_size + h_stride;
                float* w = base + offsets[li];
                for (int r = 0; r < 4 * H; ++r) {
                    const bool sigmoid_gate = r < 2 * H || r >= 3 * H;  // i, f, o; g is tanh
                    const float scale = sigmoid_gate ? 0.5f : 1.0f;
                    float* tile_base = w + static_cast<size_t>(r / tile * tile) * static_cast<size_t>(p.columns);
                    const int k = r % tile;
                    tile_base[k] = scale * (l.bias_ih[static_cast<size_t>(r)] + l.bias_hh[static_cast<size_t>(r)]);
                    for (int c = 0; c < l.input_size; ++c)
                        tile_base[(1 + c) * tile + k] = scale * l.weight_ih[static_cast<size_t>(r * l.input_size + c)];
                    for (int c = 0; c < H; ++c)
                        tile_base[(1 + l.input_size + c) * tile + k] = scale * l.weight_hh[static_cast<size_t>(r * H + c)];
                }
                p.w = w;
                layers.push_back(p);
            }
            std::copy(head_weight.begin(), head_weight.begin() + H, head.begin());
        }
        Weights(const Weights&) = delete;  // layers point into storage
        Weights& operator=(const Weights&) = delete;
    };

    // One sample of one layer: z = tanh(W [1, input, h]), tile by tile. Column 0 of W is the
    // bias (b_ih + b_hh) and the input starts with a constant 1, so the accumulators start from
    // the first column's product (1 * bias, exact). The T/8 Vec8 accumulators of a tile stay
    // in registers for all columns. tanh is taken of every gate row here, vectorized over the
    // tile; the cell turns the i, f, o rows into sigmoids (see Weights). (Summing the columns
    // in two independent halves, to shorten the dependency chain, measured slower: it needs
    // smaller tiles to fit the registers.)
    //
    // When one tile holds all 4H gate rows, H is a whole number of Vec8s and the tile is at most
    // 32 rows (H = 8), the cell update runs right here on the accumulators, so the gates never
    // go through memory (z_) on the step's critical path. Measured: H = 8 about 8% faster; for
    // H = 16 (64 rows) about 8% slower, the extra live registers cost more than z_ saves.
    template <int kH>
    static constexpr bool fused_cell() { return kH > 0 && kH % 8 == 0 && tile_rows(kH) == 4 * kH && 4 * kH <= 32; }

    template <int kH, class Vec>
    NEURALFX_ALWAYS_INLINE void gates(const PackedLayer& p, const float* xh, float* h,
                                      float* __restrict c) {
        constexpr int T = tile_rows(kH);
        constexpr int V = T / 8;
        const int rows = kH > 0 ? round_up(4 * kH, T) : weights_->rows;
        const int columns = p.columns;
        float* __restrict z = z_.data();
        for (int t = 0; t < rows; t += T) {
            const float* __restrict wt = p.w + static_cast<size_t>(t) * static_cast<size_t>(columns);
            Vec acc[V];
            const Vec one = vec_broadcast<Vec>(xh[0]);
            for (int v = 0; v < V; ++v) acc[v] = one * vec_load<Vec>(wt + 8 * v);
            for (int col = 1; col < columns; ++col) {
                const Vec a = vec_broadcast<Vec>(xh[col]);
                const float* __restrict wc = wt + col * T;
                for (int v = 0; v < V; ++v) acc[v] += a * vec_load<Vec>(wc + 8 * v);
            }
            if constexpr (fused_cell<kH>()) {
                constexpr int G = kH / 8;  // Vec8s per gate: acc holds i, f, g, o in that order
                for (int v = 0; v < G; ++v) {
                    const Vec ig = 0.5f + 0.5f * fast_tanh(acc[v]);
                    const Vec fg = 0.5f + 0.5f * fast_tanh(acc[G + v]);
                    const Vec gg = fast_tanh(acc[2 * G + v]);
                    const Vec og = 0.5f + 0.5f * fast_tanh(acc[3 * G + v]);
                    const Vec cv = fg * vec_load<Vec>(c + 8 * v) + ig * gg;
                    vec_store(c + 8 * v, cv);
                    vec_store(h + 8 * v, og * fast_tanh(cv));
                }
            } else {
                (void)h;
                (void)c;
                for (int v = 0; v < V; ++v) vec_store(z + t + 8 * v, fast_tanh(acc[v]));
            }
        }
    }

    // The cell update from the gate rows' tanh values in z_.
    template <int kH>
    NEURALFX_ALWAYS_INLINE void cell(float* __restrict h, float* __restrict c) {
        const int H = kH > 0 ? kH : hidden_;
        const float* __restrict z = z_.data();
        for (int j = 0; j < H; ++j) {
            const float ig = 0.5f + 0.5f * z[j];
            const float fg = 0.5f + 0.5f * z[H + j];
            const float gg = z[2 * H + j];
            const float og = 0.5f + 0.5f * z[3 * H + j];
            const float cj = fg * c[j] + ig * gg;
            c[j] = cj;
            h[j] = og * fast_tanh(cj);
        }
    }

    // head(h): eight lane-wise partial sums (one Vec8), then a fixed addition tree. h is
    // followed by zeros up to h_stride, matching the zero-padded head weights.
    template <int kH, class Vec>
    NEURALFX_ALWAYS_INLINE float head(const float* __restrict h) const {
        const int stride = kH > 0 ? round_up(kH, 8) : weights_->h_stride;
        const float* __restrict w = weights_->head.data();
        Vec acc = vec_load<Vec>(w) * vec_load<Vec>(h);
        for (int j = 8; j < stride; j += 8) acc += vec_load<Vec>(w + j) * vec_load<Vec>(h + j);
        float part[8];
        vec_store(part, acc);
        return weights_->head_bias + (((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7])));
    }

    // Vec: the eight-float type of the copy being compiled (Vec8 for AVX, BaselineVec8 else).
    template <int kH, class Vec>
    NEURALFX_ALWAYS_INLINE void run(float* audio, int n, KnobBuffers knobs) {
        const int H = kH > 0 ? kH : hidden_;
        const int stride = kH > 0 ? round_up(kH, 8) : weights_->h_stride;
        const int num_cond = static_cast<int>(conditioning_.size());
        const std::vector<PackedLayer>& layers = weights_->layers;
        const size_t num_layers = layers.size();
        float* xh = xh_.data();
        for (int i = 0; i < n; ++i) {
            const float x = audio[i];
            xh[1] = x;
            for (int k = 0; k < num_cond; ++k) xh[2 + k] = knobs[conditioning_[static_cast<size_t>(k)]][i];
            float* h = nullptr;
            for (size_t l = 0; l < num_layers; ++l) {
                const PackedLayer& p = layers[l];
                float* layer_xh = xh + p.xh_offset;
                h = layer_xh + 1 + p.input_size;
                float* c = c_.data() + l * static_cast<size_t>(stride);
                gates<kH, Vec>(p, layer_xh, h, c);
                if constexpr (!fused_cell<kH>()) cell<kH>(h, c);
                if (l + 1 < num_layers) {  // this layer's new h is the next layer's input
                    float* __restrict next = xh + layers[l + 1].xh_offset + 1;
                    for (int j = 0; j < H; ++j) next[j] = h[j];
                }
            }
            const float y = head<kH, Vec>(h);
            audio[i] = skip_ ? y + x : y;
        }
    }

    template <int kH>
    static void process_baseline(LSTM& self, float* audio, int n, KnobBuffers knobs) {
        self.run<kH, BaselineVec8>(audio, n, knobs);
    }
#if NEURALFX_RUNTIME_DISPATCH
    // The same code, compiled for AVX2+FMA: run() and everything it calls is inlined here.
    template <int kH>
    NEURALFX_TARGET_AVX2_FMA static void process_avx2_fma(LSTM& self, float* audio, int n, KnobBuffers knobs) {
        self.run<kH, Vec8>(audio, n, knobs);
    }
#endif
    template <int kH>
    static ProcessFn variant() {
#if NEURALFX_RUNTIME_DISPATCH
        if (dispatch_avx2_fma()) return &process_avx2_fma<kH>;
#endif
        return &process_baseline<kH>;
    }

    int hidden_;
    std::vector<int> conditioning_;
    bool skip_;
    std::shared_ptr<const Weights> weights_;
    ProcessFn process_;
    std::vector<float> xh_;  // per layer [input, h] (layer 0's input: [x, knobs...]); see Weights
    std::vector<float> c_;   // cell state per layer, h_stride apart
    std::vector<float> z_;   // gate pre-activations of the current step
};

}  // namespace neuralfx
