#pragma once
// Runtime instruction-set dispatch for hot loops. The default build targets the x86-64
// baseline (SSE2) so one binary runs everywhere; on GCC/Clang x86 builds the hot loops are
// compiled again for AVX2+FMA (and the recurrent layers also for AVX-512) and the copy is picked
// once, when a block is constructed, from what the CPU has. A build for -march=native
// (NEURALFX_NATIVE=ON) keeps the copies too, so it also picks the AVX-512 copy where the CPU has
// one (its baseline copy is the native code, with 8-lane groups). NEURALFX_SIMD in the
// environment overrides the choice, so tests and the bench can run every copy on one machine:
//   baseline      the x86-64 baseline copy
//   avx2          the AVX2+FMA copies, also on a CPU with AVX-512
//   avx2-wide16   the recurrent layers' AVX-512 code shape (16-lane groups, 16 accumulators)
//                 compiled for AVX2, each 16-lane vector as two AVX registers: slow, but it runs
//                 the AVX-512 copy's layout and arithmetic where AVX-512 is missing (CI)
#include <cstdlib>
#include <string>

#if defined(__GNUC__) || defined(__clang__)
#define NEURALFX_ALWAYS_INLINE inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define NEURALFX_ALWAYS_INLINE __forceinline
#else
#define NEURALFX_ALWAYS_INLINE inline
#endif

// The one-instruction inline-assembly forms of vec8.hpp / vec16.hpp (broadcast from memory,
// vminps / vmaxps): GCC on x86 only. Clang checks an asm operand's width in the function the asm
// is written in (a helper compiled for the baseline) and rejects 32- and 64-byte operands; its
// code for the plain forms is the single instruction anyway.
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(__clang__)
#define NEURALFX_X86_GCC_ASM 1
#else
#define NEURALFX_X86_GCC_ASM 0
#endif

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define NEURALFX_RUNTIME_DISPATCH 1
#define NEURALFX_TARGET_AVX2_FMA __attribute__((target("avx2,fma")))
#define NEURALFX_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#else
#define NEURALFX_RUNTIME_DISPATCH 0
#endif

namespace neuralfx {

enum class HotLoops { baseline, avx2_fma, avx2_wide16, avx512 };

// NEURALFX_SIMD, or "" when unset.
inline std::string simd_override() {
    const char* force = std::getenv("NEURALFX_SIMD");
    return force ? force : "";
}

// The copy of the hot loops this process runs. Decided once per process.
inline HotLoops dispatched_hot_loops() {
#if NEURALFX_RUNTIME_DISPATCH
    static const HotLoops path = [] {
        __builtin_cpu_init();
        const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        const bool avx512 = avx2 && __builtin_cpu_supports("avx512f");
        const std::string want = simd_override();
        if (want == "baseline" || !avx2) return HotLoops::baseline;
        if (want == "avx2") return HotLoops::avx2_fma;
        if (want == "avx2-wide16") return HotLoops::avx2_wide16;
        return avx512 ? HotLoops::avx512 : HotLoops::avx2_fma;
    }();
    return path;
#else
    return HotLoops::baseline;
#endif
}

// Why NEURALFX_SIMD did not select the copy it names, or "" (unset, or honoured). The choice
// itself falls back quietly, so build_info() (printed by the bench) carries this.
inline std::string simd_override_problem() {
    const std::string want = simd_override();
    if (want.empty()) return "";
    if (want != "baseline" && want != "avx2" && want != "avx2-wide16")
        return "NEURALFX_SIMD=" + want + " is not one of baseline, avx2, avx2-wide16: ignored";
#if NEURALFX_RUNTIME_DISPATCH
    if (want != "baseline" && dispatched_hot_loops() == HotLoops::baseline)
        return "NEURALFX_SIMD=" + want + " needs AVX2+FMA, which this CPU lacks: the baseline copy ran";
    return "";
#else
    return "NEURALFX_SIMD=" + want + " ignored: this build has one copy of the hot loops";
#endif
}

// True when the hot loops that have no AVX-512 copy (the convolutions) run their AVX2+FMA copy.
inline bool dispatch_avx2_fma() { return dispatched_hot_loops() != HotLoops::baseline; }

}  // namespace neuralfx
