// fast_tanh / fast_sigmoid against the double-precision functions over a dense sweep, for the
// scalar and every vector form (Vec8, the baseline eight-float type, Vec8x2, and Vec16 where the
// CPU has AVX-512): one formula, but they may differ in the last bits where the compiler fuses
// multiply-adds in one and not the other, so each is held to the bound.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "neuralfx/activations.hpp"
#include "test_support.hpp"

template <class V>
NEURALFX_ALWAYS_INLINE double vector_form_error(const char* name) {
    constexpr int kLanes = static_cast<int>(sizeof(V) / sizeof(float));
    float in[kLanes], out[kLanes];
    double worst = 0.0;
    for (int i = 0; i < 2000000 / kLanes; ++i) {
        for (int k = 0; k < kLanes; ++k) in[k] = -10.0f + 1e-5f * static_cast<float>(kLanes * i + k);
        neuralfx::vec_store(out, neuralfx::fast_tanh(neuralfx::vec_load<V>(in)));
        for (int k = 0; k < kLanes; ++k)
            worst = std::max(worst, std::fabs(static_cast<double>(out[k]) - std::tanh(static_cast<double>(in[k]))));
    }
    std::printf("%s fast_tanh max abs error %.3g\n", name, worst);
    return worst;
}

// Vec8 and Vec8x2 code runs only inside the AVX2+FMA copies of the hot loops, Vec16 only inside
// the AVX-512 copy (vec8.hpp, vec16.hpp), so their checks are compiled the same way.
#if NEURALFX_RUNTIME_DISPATCH
NEURALFX_TARGET_AVX2_FMA double vec8_form_error() { return vector_form_error<neuralfx::Vec8>("Vec8"); }
NEURALFX_TARGET_AVX2_FMA double vec8x2_form_error() { return vector_form_error<neuralfx::Vec8x2>("Vec8x2"); }
NEURALFX_TARGET_AVX512 double vec16_form_error() { return vector_form_error<neuralfx::Vec16>("Vec16"); }
#else
double vec8_form_error() { return vector_form_error<neuralfx::Vec8>("Vec8"); }
#endif

int main() {
    // Every float in [-1, 1] would be ~2e9 values; a 1e-5 grid over [-20, 20] (4 million points)
    // covers the curved part densely and the clamp at +-7.9 on both sides.
    double worst_tanh = 0.0, worst_sigmoid = 0.0, worst_at = 0.0;
    const long steps = 4000000;
    for (long i = 0; i <= steps; ++i) {
        const float x = static_cast<float>(-20.0 + 40.0 * static_cast<double>(i) / static_cast<double>(steps));
        const double et = std::fabs(static_cast<double>(neuralfx::fast_tanh(x)) - std::tanh(static_cast<double>(x)));
        const double es = std::fabs(static_cast<double>(neuralfx::fast_sigmoid(x)) - 1.0 / (1.0 + std::exp(-static_cast<double>(x))));
        if (et > worst_tanh) worst_tanh = et, worst_at = x;
        if (es > worst_sigmoid) worst_sigmoid = es;
        CHECK(std::fabs(neuralfx::fast_tanh(x)) <= 1.0f);
        CHECK(neuralfx::fast_tanh(-x) == -neuralfx::fast_tanh(x));  // odd, exactly
        // The factor folded into the coefficients is exact (the cells rely on it; activations.hpp).
        CHECK(neuralfx::fast_tanh_times(x, 0.5f) == 0.5f * neuralfx::fast_tanh(x));
    }
    std::printf("fast_tanh max abs error %.3g (at x = %.6g), fast_sigmoid %.3g; documented bound %.3g\n",
                worst_tanh, worst_at, worst_sigmoid, static_cast<double>(neuralfx::kFastTanhMaxAbsError));
    CHECK(worst_tanh <= neuralfx::kFastTanhMaxAbsError);
    CHECK(worst_sigmoid <= neuralfx::kFastTanhMaxAbsError);
    // Saturation far outside the sweep, and finite output for the largest finite inputs.
    CHECK(neuralfx::fast_tanh(1e30f) == neuralfx::fast_tanh(20.0f));
    CHECK(neuralfx::fast_tanh(-std::numeric_limits<float>::max()) == neuralfx::fast_tanh(-20.0f));
    CHECK(neuralfx::fast_tanh(0.0f) == 0.0f);

    // The vector forms, a vector at a time over [-10, 10], each where the CPU can run it.
#if NEURALFX_RUNTIME_DISPATCH
    if (neuralfx::dispatch_avx2_fma()) {
        CHECK(vec8_form_error() <= neuralfx::kFastTanhMaxAbsError);
        CHECK(vec8x2_form_error() <= neuralfx::kFastTanhMaxAbsError);
    }
    if (neuralfx::dispatched_hot_loops() == neuralfx::HotLoops::avx512)
        CHECK(vec16_form_error() <= neuralfx::kFastTanhMaxAbsError);
#else
    CHECK(vec8_form_error() <= neuralfx::kFastTanhMaxAbsError);
#endif
    CHECK(vector_form_error<neuralfx::BaselineVec8>("BaselineVec8") <= neuralfx::kFastTanhMaxAbsError);
    return nfx_test::finish("test_activations");
}
