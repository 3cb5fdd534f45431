#pragma once
// LSTM amp model: stacked LSTM over [audio, conditioning knobs...], a linear head, and an
// optional input skip (y = head(h) + x). Twin of neuralfx/models/lstm.py; the gate order and
// equations are PyTorch's nn.LSTM (i, f, g, o):
//   c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g),  h' = σ(o) ⊙ tanh(c')
// The engine (chunks, packing, SIMD, dispatch, stereo pairs) is layers/recurrent.hpp.

#include "recurrent.hpp"

namespace neuralfx {

struct LSTMCell {
    static constexpr int kGates = 4;
    // i, f, o are sigmoids computed as (1 + tanh(v/2)) / 2: their rows are pre-scaled by 1/2.
    static constexpr float kScale[kGates] = {0.5f, 0.5f, 1.0f, 0.5f};
    static constexpr bool kHiddenBiasApart[kGates] = {false, false, false, false};

    // acc: the gate sums of one group of units (i, f, g, o); c: their cell state, updated in place.
    template <class Vec>
    NEURALFX_ALWAYS_INLINE static void update(const Vec (&acc)[kGates], const float*, float* c, const float*, float* hnew) {
        const Vec ig = 0.5f + 0.5f * fast_tanh(acc[0]);
        const Vec fg = 0.5f + 0.5f * fast_tanh(acc[1]);
        const Vec gg = fast_tanh(acc[2]);
        const Vec og = 0.5f + 0.5f * fast_tanh(acc[3]);
        const Vec cv = fg * vec_load<Vec>(c) + ig * gg;
        vec_store(c, cv);
        vec_store(hnew, og * fast_tanh(cv));
    }
};

using LSTM = RecurrentBlock<LSTMCell>;

}  // namespace neuralfx
