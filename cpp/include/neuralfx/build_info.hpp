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

// The instruction set the hot loops (layers/lstm.hpp) actually run with on this CPU: the
// AVX2+FMA copy when runtime dispatch picked it, else the build's own target.
inline std::string dispatched_simd_path() {
    if (dispatch_avx2_fma()) return "avx2+fma";
    return simd_path();
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
    return "compiler: " + compiler() + "; flags: " NEURALFX_CXX_FLAGS "; simd: " + simd_path() +
           "; hot loops: " + dispatched_simd_path() +
           (NEURALFX_RUNTIME_DISPATCH ? " (picked at run time)" : " (fixed at compile time)");
}

}  // namespace neuralfx
