#pragma once
// Fast, vectorizable tanh and sigmoid for the recurrent layers. Branch-free (min/max, one
// division), so a loop over them compiles to SIMD code; std::tanh / std::exp calls would not.

#include "cpu_dispatch.hpp"
#include "vec8.hpp"

namespace neuralfx {

// Largest |fast_tanh(x) - tanh(x)| (tanh in double) over a dense sweep of [-20, 20]; the bound
// is checked by cpp/tests/test_activations.cpp. It is ~200x below the 1e-4 torch parity
// tolerance, so the approximation never decides whether a model matches torch.
constexpr float kFastTanhMaxAbsError = 5e-7f;

constexpr float kFastTanhClamp = 7.90531110763549805f;

// Value selects, not std::min/max (which return references): with -fno-trapping-math GCC turns
// these into vmaxps/vminps-style selects inside a loop instead of a branch.
NEURALFX_ALWAYS_INLINE float clamp_tanh_input(float v) {
    const float lo = v < -kFastTanhClamp ? -kFastTanhClamp : v;
    return lo > kFastTanhClamp ? kFastTanhClamp : lo;
}
template <class V>
NEURALFX_ALWAYS_INLINE V clamp_tanh_input(V v) {
    return vec_min(vec_max(v, vec_broadcast<V>(-kFastTanhClamp)), vec_broadcast<V>(kFastTanhClamp));
}

// tanh as a [13/6] rational function on [-7.905, 7.905] and clamped outside, where float tanh
// is already +-1 to within 1 ulp. The coefficients are the minimax fit used by Eigen's
// generic_fast_tanh_float (Eigen/src/Core/MathFunctionsImpl.h). V is float or Vec8: one
// formula for the scalar loops (left to the auto-vectorizer) and the explicit vector code
// (Vec8 or BaselineVec8).
template <class V>
NEURALFX_ALWAYS_INLINE V fast_tanh(V v) {
    const V x = clamp_tanh_input(v);
    // Estrin's scheme in y = x^2 (pairs of terms, then y^2 and y^4 to join them) instead of
    // Horner's: the same polynomials with about half the dependent multiply-adds, and tanh sits
    // on the LSTM's sample-to-sample critical path twice per step.
    const V y = x * x;
    const V y2 = y * y;
    const V y4 = y2 * y2;
    const V p01 = y * 6.37261928875436e-04f + 4.89352455891786e-03f;
    const V p23 = y * 5.12229709037114e-08f + 1.48572235717979e-05f;
    const V p45 = y * 2.00018790482477e-13f + -8.60467152213735e-11f;
    const V p6 = y2 * -2.76076847742355e-16f + p45;
    const V p = x * ((y2 * p23 + p01) + y4 * p6);
    const V q01 = y * 2.26843463243900e-03f + 4.89352518554385e-03f;
    const V q23 = y * 1.19825839466702e-06f + 1.18534705686654e-04f;
    const V q = y2 * q23 + q01;
    return p / q;
}

// sigmoid(v) = (1 + tanh(v / 2)) / 2 exactly, so its error is half of fast_tanh's.
NEURALFX_ALWAYS_INLINE float fast_sigmoid(float v) { return 0.5f + 0.5f * fast_tanh(0.5f * v); }

}  // namespace neuralfx
