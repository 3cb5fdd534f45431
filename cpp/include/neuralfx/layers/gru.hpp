#pragma once
// GRU amp model: stacked GRU over [audio, conditioning knobs...], a linear head, and an optional
// input skip. Twin of neuralfx/models/gru.py; gate order and equations are PyTorch's nn.GRU:
//   r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h
// The engine (chunks, packing, SIMD, dispatch, stereo pairs) is layers/recurrent.hpp.

#include "recurrent.hpp"

namespace neuralfx {

struct GRUCell {
    static constexpr int kGates = 3;
    // r, z are sigmoids computed as (1 + tanh(v/2)) / 2: their rows are pre-scaled by 1/2.
    static constexpr float kScale[kGates] = {0.5f, 0.5f, 1.0f};
    // n's hidden part (W_hn h + b_hn) is multiplied by r before the input part joins it.
    static constexpr bool kHiddenBiasApart[kGates] = {false, false, true};

    // acc: r and z sums and W_hn h + b_hn of one group of units (the lanes of Vec); in: their
    // gate inputs, one vector per gate (the third: W_in x + b_in).
    template <class Vec>
    NEURALFX_ALWAYS_INLINE static void update(const Vec (&acc)[kGates], const float* in, float*, const float* hprev,
                                              float* hnew) {
        const Vec r = 0.5f + fast_tanh_times(acc[0], 0.5f);
        const Vec z = 0.5f + fast_tanh_times(acc[1], 0.5f);
        const Vec n = fast_tanh(vec_load<Vec>(in + 2 * sizeof(Vec) / sizeof(float)) + r * acc[2]);
        vec_store(hnew, n + z * (vec_load<Vec>(hprev) - n));
    }
};

using GRU = RecurrentBlock<GRUCell>;

}  // namespace neuralfx
