#pragma once
// What this binary was built with, so every benchmark number can say which code path made it.

#include <string>

#ifndef NEURALFX_CXX_FLAGS
#define NEURALFX_CXX_FLAGS "unknown"
#endif

namespace neuralfx {

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
    return "compiler: " + compiler() + "; flags: " NEURALFX_CXX_FLAGS "; simd: " + simd_path();
}

}  // namespace neuralfx
