#pragma once
// The CPU's fp32 multiply-add rate, measured, for the bench's "of peak" column: a model's
// multiply-adds per sample (Block::multiply_adds_per_sample) at this rate give the fastest any
// fp32 implementation of it could run on one core, whatever its code.

#include <algorithm>
#include <string>

#include <time.h>

#include "neuralfx/cpu_dispatch.hpp"
#include "neuralfx/vec16.hpp"

namespace neuralfx_bench {

// Seconds of CPU time this thread has run. The bench times everything by it, its probes of the
// clock and the multiply-add rate too: timed by the wall clock, they read what the core gave this
// thread, and under load they read 0.33 GHz and 638 % of peak beside rates that held.
inline double thread_cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct FmaPeak {
    double multiply_adds_per_s = 0.0;
    std::string isa;  // the vector copy that measured it
};

// kChains independent chains of acc = acc * m + a: 12 covers the multiply-add latency (4 to 5
// cycles) on two pipes with room to spare, and with two constants still fits AVX2's 16 registers.
// (The baseline copy, measured only on x86 without AVX2 or off x86, holds each chain in two
// 16-byte registers: on x86's 16 SSE registers that spills, so it may read low; NEON has 32.)
template <class Vec>
NEURALFX_ALWAYS_INLINE float multiply_add_chains(float m, float a, long iterations) {
    constexpr int kChains = 12;
    Vec acc[kChains];
    for (int k = 0; k < kChains; ++k) acc[k] = neuralfx::vec_broadcast<Vec>(static_cast<float>(k));
    const Vec vm = neuralfx::vec_broadcast<Vec>(m), va = neuralfx::vec_broadcast<Vec>(a);
    for (long i = 0; i < iterations; ++i)
        for (int k = 0; k < kChains; ++k) acc[k] = acc[k] * vm + va;
    Vec total = acc[0];
    for (int k = 1; k < kChains; ++k) total += acc[k];
    return neuralfx::sum_lanes(total);
}

template <class Vec>
constexpr long kMultiplyAddsPerIteration = 12 * static_cast<long>(sizeof(Vec) / sizeof(float));

#if NEURALFX_RUNTIME_DISPATCH && defined(NEURALFX_HAS_VEC16)
NEURALFX_TARGET_AVX512 inline float chains_avx512(float m, float a, long n) {
    return multiply_add_chains<neuralfx::Vec16>(m, a, n);
}
NEURALFX_TARGET_AVX2_FMA inline float chains_avx2(float m, float a, long n) {
    return multiply_add_chains<neuralfx::Vec8>(m, a, n);
}
#endif
inline float chains_baseline(float m, float a, long n) { return multiply_add_chains<neuralfx::BaselineVec8>(m, a, n); }

// Best of 5 runs of ~10 ms of thread CPU time on the widest vector copy this CPU runs (the
// CPU's, not the one NEURALFX_SIMD may force on the kernel). m and a are read from volatiles so the chains cannot
// be folded; the result is kept for the same reason.
inline FmaPeak measure_fma_peak() {
    volatile float m_in = 0.999999f, a_in = 1e-6f;
    volatile float keep = 0.0f;
    float (*chains)(float, float, long) = chains_baseline;
    long per_iteration = kMultiplyAddsPerIteration<neuralfx::BaselineVec8>;
    FmaPeak peak;
    peak.isa = "baseline";
#if NEURALFX_RUNTIME_DISPATCH && defined(NEURALFX_HAS_VEC16)
    if (neuralfx::cpu_has_avx512()) {
        chains = chains_avx512, per_iteration = kMultiplyAddsPerIteration<neuralfx::Vec16>, peak.isa = "avx512";
    } else if (neuralfx::cpu_has_avx2_fma()) {
        chains = chains_avx2, per_iteration = kMultiplyAddsPerIteration<neuralfx::Vec8>, peak.isa = "avx2+fma";
    }
#endif
    const long iterations = 2000000;  // x 12 vector multiply-adds: ~7 ms at one a cycle and 3.66 GHz
    for (int run = 0; run < 5; ++run) {
        const double t0 = thread_cpu_seconds();
        keep = keep + chains(m_in, a_in, iterations);
        const double s = thread_cpu_seconds() - t0;
        peak.multiply_adds_per_s = std::max(peak.multiply_adds_per_s, static_cast<double>(per_iteration) * iterations / s);
    }
    return peak;
}

}  // namespace neuralfx_bench
