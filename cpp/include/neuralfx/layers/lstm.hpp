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
    // With th = tanh/2 (fast_tanh_times, exact): σ(i) tanh(g) = (1 + tanh(i/2)) th(g) and
    // σ(o) tanh(c') = (1 + tanh(o/2)) th(c'), one multiply-add each instead of a sigmoid's
    // multiply-add and a product.
    template <class Vec>
    NEURALFX_ALWAYS_INLINE static void update(const Vec (&acc)[kGates], const float*, float* c, const float*, float* hnew) {
        const Vec ti = fast_tanh(acc[0]);
        const Vec fg = 0.5f + fast_tanh_times(acc[1], 0.5f);
        const Vec gh = fast_tanh_times(acc[2], 0.5f);
        const Vec to = fast_tanh(acc[3]);
        const Vec cv = fg * vec_load<Vec>(c) + (ti * gh + gh);
        vec_store(c, cv);
        const Vec ch = fast_tanh_times(cv, 0.5f);
        vec_store(hnew, to * ch + ch);
    }
};

using LSTM = RecurrentBlock<LSTMCell>;

}  // namespace neuralfx
