#pragma once
// LSTM amp model: stacked LSTM over [audio, conditioning knobs...], a linear head, and an
// optional input skip (y = head(h) + x). Twin of neuralfx/models/lstm.py; the gate order and
// equations are PyTorch's nn.LSTM (i, f, g, o).

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../block.hpp"
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
          head_weight_(std::move(head_weight)),
          head_bias_(head_bias) {
        for (Layer& l : layers) {
            // Interleave rows so each gate row holds [W_ih row | W_hh row]: one dot product per
            // gate over the concatenated [x, h] vector.
            Packed p;
            p.input_size = l.input_size;
            p.stride = l.input_size + hidden_;
            p.weights.resize(static_cast<size_t>(4 * hidden_ * p.stride));
            p.bias.resize(static_cast<size_t>(4 * hidden_));
            for (int r = 0; r < 4 * hidden_; ++r) {
                float* row = &p.weights[static_cast<size_t>(r * p.stride)];
                for (int c = 0; c < l.input_size; ++c) row[c] = l.weight_ih[static_cast<size_t>(r * l.input_size + c)];
                for (int c = 0; c < hidden_; ++c) row[l.input_size + c] = l.weight_hh[static_cast<size_t>(r * hidden_ + c)];
                p.bias[static_cast<size_t>(r)] = l.bias_ih[static_cast<size_t>(r)] + l.bias_hh[static_cast<size_t>(r)];
            }
            layers_.push_back(std::move(p));
        }
        allocate_state();
    }

    void prepare(int) override { reset(); }

    void reset() override {
        for (Packed& p : layers_) {
            std::fill(p.xh.begin(), p.xh.end(), 0.0f);
            std::fill(p.c.begin(), p.c.end(), 0.0f);
        }
    }

    void process(float* audio, int n, KnobBuffers knobs) override {
        const int num_cond = static_cast<int>(conditioning_.size());
        for (int i = 0; i < n; ++i) {
            const float x = audio[i];
            Packed& first = layers_.front();
            first.xh[0] = x;
            for (int k = 0; k < num_cond; ++k) first.xh[static_cast<size_t>(1 + k)] = knobs[conditioning_[static_cast<size_t>(k)]][i];
            for (size_t l = 0; l < layers_.size(); ++l) {
                Packed& p = layers_[l];
                step(p);
                if (l + 1 < layers_.size()) {
                    // This layer's new h is the next layer's input.
                    Packed& next = layers_[l + 1];
                    for (int j = 0; j < hidden_; ++j) next.xh[static_cast<size_t>(j)] = p.xh[static_cast<size_t>(p.input_size + j)];
                }
            }
            const float* h = &layers_.back().xh[static_cast<size_t>(layers_.back().input_size)];
            float y = head_bias_;
            for (int j = 0; j < hidden_; ++j) y += head_weight_[static_cast<size_t>(j)] * h[j];
            audio[i] = skip_ ? y + x : y;
        }
    }

    std::unique_ptr<Block> clone() const override {
        auto copy = std::make_unique<LSTM>(*this);
        copy->reset();
        return copy;
    }

private:
    struct Packed {
        int input_size = 0;
        int stride = 0;
        std::vector<float> weights;  // (4H, input_size + H)
        std::vector<float> bias;     // b_ih + b_hh
        std::vector<float> xh;       // [x, h]: the input of the next step
        std::vector<float> c;        // cell state
        std::vector<float> gates;    // scratch (4H)
    };

    static float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

    void allocate_state() {
        for (Packed& p : layers_) {
            p.xh.assign(static_cast<size_t>(p.stride), 0.0f);
            p.c.assign(static_cast<size_t>(hidden_), 0.0f);
            p.gates.assign(static_cast<size_t>(4 * hidden_), 0.0f);
        }
    }

    void step(Packed& p) {
        const int H = hidden_;
        const int S = p.stride;
        const float* xh = p.xh.data();
        float* g = p.gates.data();
        for (int r = 0; r < 4 * H; ++r) {
            const float* w = &p.weights[static_cast<size_t>(r * S)];
            float acc = p.bias[static_cast<size_t>(r)];
            for (int c = 0; c < S; ++c) acc += w[c] * xh[c];
            g[r] = acc;
        }
        float* h = &p.xh[static_cast<size_t>(p.input_size)];
        float* c = p.c.data();
        for (int j = 0; j < H; ++j) {
            const float ig = sigmoid(g[j]);
            const float fg = sigmoid(g[H + j]);
            const float gg = std::tanh(g[2 * H + j]);
            const float og = sigmoid(g[3 * H + j]);
            c[j] = fg * c[j] + ig * gg;
            h[j] = og * std::tanh(c[j]);
        }
    }

    int hidden_;
    std::vector<Packed> layers_;
    std::vector<int> conditioning_;
    bool skip_;
    std::vector<float> head_weight_;
    float head_bias_;
};

}  // namespace neuralfx
