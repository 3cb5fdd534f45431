#pragma once
// Runtime instruction-set dispatch for hot loops. The default build targets the x86-64
// baseline (SSE2) so one binary runs everywhere; on GCC/Clang x86 builds the hot loops are
// compiled a second time for AVX2+FMA and picked once, when a block is constructed, if the
// CPU has both. A build that already targets AVX2+FMA (NEURALFX_NATIVE=ON, -march=native)
// needs no second copy. NEURALFX_SIMD=baseline in the environment forces the baseline copy,
// so tests and the bench can compare both paths on one machine.

#include <cstdlib>
#include <cstring>

#if defined(__GNUC__) || defined(__clang__)
#define NEURALFX_ALWAYS_INLINE inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define NEURALFX_ALWAYS_INLINE __forceinline
#else
#define NEURALFX_ALWAYS_INLINE inline
#endif

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && \
    !(defined(__AVX2__) && defined(__FMA__))
#define NEURALFX_RUNTIME_DISPATCH 1
#define NEURALFX_TARGET_AVX2_FMA __attribute__((target("avx2,fma")))
#else
#define NEURALFX_RUNTIME_DISPATCH 0
#endif

namespace neuralfx {

// True when hot loops should run their AVX2+FMA copy. Decided once per process.
inline bool dispatch_avx2_fma() {
#if NEURALFX_RUNTIME_DISPATCH
    static const bool use = [] {
        const char* force = std::getenv("NEURALFX_SIMD");
        if (force && std::strcmp(force, "baseline") == 0) return false;
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }();
    return use;
#else
    return false;
#endif
}

}  // namespace neuralfx
