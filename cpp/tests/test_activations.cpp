// fast_tanh / fast_sigmoid against the double-precision functions over a dense sweep, and the
// Vec8 form against the scalar form (one formula, so they must agree bit for bit).

#include <cmath>
#include <cstdio>
#include <limits>

#include "neuralfx/activations.hpp"
#include "test_support.hpp"

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
    }
    std::printf("fast_tanh max abs error %.3g (at x = %.6g), fast_sigmoid %.3g; documented bound %.3g\n",
                worst_tanh, worst_at, worst_sigmoid, static_cast<double>(neuralfx::kFastTanhMaxAbsError));
    CHECK(worst_tanh <= neuralfx::kFastTanhMaxAbsError);
    CHECK(worst_sigmoid <= neuralfx::kFastTanhMaxAbsError);
    // Saturation far outside the sweep, and finite output for the largest finite inputs.
    CHECK(neuralfx::fast_tanh(1e30f) == neuralfx::fast_tanh(20.0f));
    CHECK(neuralfx::fast_tanh(-std::numeric_limits<float>::max()) == neuralfx::fast_tanh(-20.0f));
    CHECK(neuralfx::fast_tanh(0.0f) == 0.0f);

    // The Vec8 form: lane by lane equal to the scalar form.
    float in[8], out[8];
    for (int i = 0; i < 1000; ++i) {
        for (int k = 0; k < 8; ++k) in[k] = -9.0f + 0.00225f * static_cast<float>(8 * i + k);
        neuralfx::vec8_store(out, neuralfx::fast_tanh(neuralfx::vec8_load(in)));
        for (int k = 0; k < 8; ++k) CHECK(out[k] == neuralfx::fast_tanh(in[k]));
    }
    return nfx_test::finish("test_activations");
}
