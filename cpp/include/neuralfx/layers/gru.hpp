#pragma once
// GRU amp model: stacked GRU over [audio, conditioning knobs...], a linear head, and an optional
// input skip. Twin of neuralfx/models/gru.py; gate order and equations are PyTorch's nn.GRU:
//   r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h

#include <cmath>
#include <memory>
#include <vector>

#include "../block.hpp"
#include "recurrent_weights.hpp"

namespace neuralfx {

class GRU final : public Block {
public:
    GRU(int hidden_size, std::vector<RecurrentLayerWeights> layers, std::vector<float> head_weight, float head_bias,
        std::vector<int> conditioning, bool skip)
        : hidden_(hidden_size),
          layers_(std::move(layers)),
          conditioning_(std::move(conditioning)),
          skip_(skip),
          head_weight_(std::move(head_weight)),
          head_bias_(head_bias) {
        for (const auto& l : layers_) {
            State s;
            s.x.assign(static_cast<size_t>(l.input_size), 0.0f);
            s.h.assign(static_cast<size_t>(hidden_), 0.0f);
            s.gi.assign(static_cast<size_t>(3 * hidden_), 0.0f);
            s.gh.assign(static_cast<size_t>(3 * hidden_), 0.0f);
            state_.push_back(std::move(s));
        }
    }

    void prepare(int) override { reset(); }

    void reset() override {
        for (State& s : state_) std::fill(s.h.begin(), s.h.end(), 0.0f);
    }

    void process(float* audio, int n, KnobBuffers knobs) override {
        const size_t num_cond = conditioning_.size();
        for (int i = 0; i < n; ++i) {
            const float x = audio[i];
            State& first = state_.front();
            first.x[0] = x;
            for (size_t k = 0; k < num_cond; ++k) first.x[1 + k] = knobs[conditioning_[k]][i];
            for (size_t l = 0; l < layers_.size(); ++l) {
                step(layers_[l], state_[l]);
                if (l + 1 < layers_.size()) state_[l + 1].x = state_[l].h;  // same size: no allocation
            }
            const std::vector<float>& h = state_.back().h;
            float y = head_bias_;
            for (int j = 0; j < hidden_; ++j) y += head_weight_[static_cast<size_t>(j)] * h[static_cast<size_t>(j)];
            audio[i] = skip_ ? y + x : y;
        }
    }

    std::unique_ptr<Block> clone() const override {
        auto copy = std::make_unique<GRU>(*this);
        copy->reset();
        return copy;
    }

private:
    struct State {
        std::vector<float> x;   // layer input
        std::vector<float> h;   // hidden state
        std::vector<float> gi;  // W_ih x + b_ih (scratch)
        std::vector<float> gh;  // W_hh h + b_hh (scratch)
    };

    static float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

    static void affine(const std::vector<float>& w, const std::vector<float>& b, const std::vector<float>& v,
                       std::vector<float>& out) {
        const size_t cols = v.size();
        for (size_t r = 0; r < out.size(); ++r) {
            float acc = b[r];
            const float* row = &w[r * cols];
            for (size_t c = 0; c < cols; ++c) acc += row[c] * v[c];
            out[r] = acc;
        }
    }

    void step(const RecurrentLayerWeights& w, State& s) {
        const size_t H = static_cast<size_t>(hidden_);
        affine(w.weight_ih, w.bias_ih, s.x, s.gi);
        affine(w.weight_hh, w.bias_hh, s.h, s.gh);
        for (size_t j = 0; j < H; ++j) {
            const float r = sigmoid(s.gi[j] + s.gh[j]);
            const float z = sigmoid(s.gi[H + j] + s.gh[H + j]);
            const float cand = std::tanh(s.gi[2 * H + j] + r * s.gh[2 * H + j]);
            s.h[j] = (1.0f - z) * cand + z * s.h[j];
        }
    }

    int hidden_;
    std::vector<RecurrentLayerWeights> layers_;
    std::vector<State> state_;
    std::vector<int> conditioning_;
    bool skip_;
    std::vector<float> head_weight_;
    float head_bias_;
};

}  // namespace neuralfx
