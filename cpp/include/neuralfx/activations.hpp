#pragma once
// Fast, vectorizable tanh and sigmoid for the recurrent layers. Branch-free (min/max, one
// division), so a loop over them compiles to SIMD code; std::tanh / std::exp calls would not.

#include "cpu_dispatch.hpp"
#include "vec16.hpp"  // declares the vector forms before the templates below (no ADL for Vec8/Vec16)

namespace neuralfx {

// Largest |fast_tanh(x) - tanh(x)| (tanh in double) over a dense sweep of [-20, 20]; the bound
// is checked by cpp/tests/test_activations.cpp. It is 200x below the 1e-4 torch parity
// tolerance, but trained models amplify it (see fast_tanh_times): the shipped amp presets'
// parity errors are 2.7e-5 to 3.1e-5.
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

// tanh as a [7/8] rational function x P(x^2) / Q(x^2) on [-7.905, 7.905] and clamped outside,
// where float tanh is already +-1 to within 1 ulp. Coefficients from tools/fit_fast_tanh.py (a
// near-minimax fit for this kernel). It replaced Eigen's [13/6] form: 10 multiply-adds instead
// of 13 and a shorter dependent chain (clamp, y, y^2, two multiply-adds, the division), with the
// same error bound; tanh sits on the LSTM's sample-to-sample critical path twice per step.
// On the Zen 3 VM that path does not limit the recurrent loops: LSTM-16/32 and GRU-32 ran no
// faster with every step reading the same h (a timing-only probe, 0.95-1.01x), and Horner's
// form of P and Q (one multiply fewer, a longer chain; max error 4.7e-7) measured 0.96-1.02x
// (paired rounds, block 64), so this form was kept.
// A cheaper [5/6] form (7 coefficients instead of 9, 2 fewer operations; max error 8.2e-6 with
// the clamp at 5.98; timed as an earlier fit of the same form) ran LSTM-32 1.09-1.11x and
// GRU-32 1.07-1.11x faster on the Zen 3 VM (paired rounds, block 64), but the shipped amp
// presets then missed torch parity: high_gain_amp 2.4e-3 and crunch_amp 1.0e-3 against the
// 1e-4 contract (2.7e-5 and 3.1e-5 with this form). Trained gain stages amplify tanh's error
// 100-300x, so the error bound, not the operation count, sets the degree.
// V is float or a vector type: one formula for the scalar loops (left to the auto-vectorizer) and
// the explicit vector code (Vec8, BaselineVec8, Vec8x2, Vec16).
//
// fast_tanh_times(v, k) is k * fast_tanh(v) for k a power of two: k scales P's coefficients,
// which is exact in float, so the product costs no operation. For k = 1/2 the two agree bit for
// bit except where the result is denormal (|v| < 2^-125; checked on every 97th float bit
// pattern, and test_activations checks its sweep), which the kernel flushes to zero anyway.
// The cells use k = 1/2 for sigmoid(2v) = 1/2 + tanh(v)/2 (one addition, which runs beside the
// multiply-adds on x86) and to fold the 1/2 of a sigmoid gate into the product it gates.
template <class V>
NEURALFX_ALWAYS_INLINE V fast_tanh_times(V v, float k) {
    const V x = clamp_tanh_input(v);
    const V y = x * x;
    const V y2 = y * y;
    const V p = (y * (k * 1.1409209836804601e-05f) + k * 0.0029480072120175978f) * y2 +
                (y * (k * 0.1292221541179924f) + k * 0.99999942268887831f);
    const V q = ((y2 * 2.4554861538517159e-07f) + (y * 0.00023832405587863835f + 0.023801447919373133f)) * y2 +
                (y * 0.46255334906880508f + 1.0f);
    return x * p / q;
}
template <class V>
NEURALFX_ALWAYS_INLINE V fast_tanh(V v) {
    return fast_tanh_times(v, 1.0f);
}

// sigmoid(v) = (1 + tanh(v / 2)) / 2 exactly, so its error is half of fast_tanh's.
NEURALFX_ALWAYS_INLINE float fast_sigmoid(float v) { return 0.5f + fast_tanh_times(0.5f * v, 0.5f); }

}  // namespace neuralfx
