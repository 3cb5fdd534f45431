#pragma once
// What this binary was built with, so every benchmark number can say which code path made it.

#include <string>

#include "cpu_dispatch.hpp"

#ifndef NEURALFX_CXX_FLAGS
#define NEURALFX_CXX_FLAGS "unknown"
#endif

namespace neuralfx {

// The instruction set the compiler targeted for the whole build.
inline std::string simd_path() {
#if defined(__AVX512F__)
    return "avx512";
#elif defined(__AVX2__) && defined(__FMA__)
    return "avx2+fma";
#elif defined(__AVX__)
    return "avx";
#elif defined(__SSE2__) || defined(_M_X64)
    return "sse2";
#elif defined(__ARM_NEON)
    return "neon";
#else
    return "scalar";
#endif
}

// The copy of the hot loops that runs on this CPU (cpu_dispatch.hpp) and its instruction set.
inline std::string dispatched_simd_path() {
    switch (dispatched_hot_loops()) {
        case HotLoops::avx512:
            return hot_loop_choice().half_rate_512
                       ? "avx512 (recurrent layers; 512-bit multiply-adds at half rate on this core, so 8-lane groups "
                         "where 16 would pad), avx2+fma (convolutions)"
                       : "avx512 (recurrent layers), avx2+fma (convolutions)";
        case HotLoops::avx2_wide16: return "avx2+fma, recurrent layers in the avx512 layout (NEURALFX_SIMD=avx2-wide16)";
        case HotLoops::avx2_fma: return "avx2+fma";
        case HotLoops::baseline: break;
    }
    return "baseline (" + simd_path() + ")";  // the build's own target: sse2, or -march=native's
}

inline std::string compiler() {
#if defined(__clang__)
    return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    return std::string("gcc ") + __VERSION__;
#elif defined(_MSC_VER)
    return "msvc " + std::to_string(_MSC_VER);
#else
    return "unknown";
#endif
}

inline std::string build_info() {
    const std::string problem = simd_override_problem();
    return "compiler: " + compiler() + "; flags: " NEURALFX_CXX_FLAGS "; simd: " + simd_path() +
           "; hot loops: " + dispatched_simd_path() +
           (NEURALFX_RUNTIME_DISPATCH ? " (picked at run time)" : " (fixed at compile time)") +
           (problem.empty() ? "" : "; " + problem);
}

}  // namespace neuralfx
