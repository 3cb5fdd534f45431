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
// is written in (a helper compiled for the baseline) and rejects 32- and 64-byte operands; for
// the plain forms Clang 14 emits vminps / vmaxps and vbroadcastss from memory itself (checked in
// the disassembly of its AVX2 LSTM and WaveNet copies).
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(__clang__)
#define NEURALFX_X86_GCC_ASM 1
#else
#define NEURALFX_X86_GCC_ASM 0
#endif

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define NEURALFX_RUNTIME_DISPATCH 1
#define NEURALFX_TARGET_AVX2_FMA __attribute__((target("avx2,fma")))
#define NEURALFX_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#else
#define NEURALFX_RUNTIME_DISPATCH 0
#endif

namespace neuralfx {

enum class HotLoops { baseline, avx2_fma, avx2_wide16, avx512 };

// The copy of the hot loops this process runs, and why NEURALFX_SIMD did not select the copy it
// names ("" when unset or honoured). The choice falls back quietly, so build_info(), which the
// bench prints, carries the reason.
struct HotLoopChoice {
    HotLoops path = HotLoops::baseline;
    // The AVX-512 copy on a core that issues a 512-bit multiply-add as two 256-bit halves, so a
    // 16-lane group costs what two groups of 8 do and padding to 16 costs in full (the recurrent
    // layers' choice of group width reads it).
    bool half_rate_512 = false;
    std::string problem;
};

#if NEURALFX_RUNTIME_DISPATCH
// The instruction sets this CPU runs (whatever NEURALFX_SIMD asks for): the dispatcher's choice
// and the bench's multiply-add probe (cpp/bench/fma_peak.hpp) both read them.
inline bool cpu_has_avx2_fma() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
inline bool cpu_has_avx512() { return cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f"); }

// AMD family 19h: its AVX-512 cores (Zen 4) split 512-bit operations in two. Measured on a Zen 4
// EPYC: 12 independent multiply-add chains ran 16 fp32 multiply-adds a cycle in 512-bit and in
// 256-bit registers alike (the bench's fma_peak probe). Intel's AVX-512 cores are left out:
// those with two 512-bit units double the rate, and which have one is not told by CPUID.
inline bool splits_512_bit_operations() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return false;
    const bool amd = b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u;  // "AuthenticAMD"
    if (!amd || !__get_cpuid(1, &a, &b, &c, &d)) return false;
    const unsigned base = (a >> 8) & 0xfu, extended = (a >> 20) & 0xffu;
    return (base == 0xfu ? base + extended : base) == 0x19u;
}
#endif

inline HotLoopChoice choose_hot_loops() {
    const char* force = std::getenv("NEURALFX_SIMD");
    const std::string want = force ? force : "";
    const bool wants_x86_copy = want == "avx2" || want == "avx2-wide16";
    HotLoopChoice c;
    if (!want.empty() && want != "baseline" && !wants_x86_copy)
        c.problem = "NEURALFX_SIMD=" + want + " is not one of baseline, avx2, avx2-wide16: ignored";
#if NEURALFX_RUNTIME_DISPATCH
    const bool avx2 = cpu_has_avx2_fma();
    const bool avx512 = cpu_has_avx512();
    if (wants_x86_copy && !avx2)
        c.problem = "NEURALFX_SIMD=" + want + " needs AVX2+FMA, which this CPU lacks: the baseline copy ran";
    if (want == "baseline" || !avx2) c.path = HotLoops::baseline;
    else if (want == "avx2") c.path = HotLoops::avx2_fma;
    else if (want == "avx2-wide16") c.path = HotLoops::avx2_wide16;
    else c.path = avx512 ? HotLoops::avx512 : HotLoops::avx2_fma;
    c.half_rate_512 = c.path == HotLoops::avx512 && splits_512_bit_operations();
#else
    if (wants_x86_copy) c.problem = "NEURALFX_SIMD=" + want + " ignored: this build has one copy of the hot loops";
#endif
    return c;
}

// Decided once per process (at the first block's construction).
inline const HotLoopChoice& hot_loop_choice() {
    static const HotLoopChoice choice = choose_hot_loops();
    return choice;
}
inline HotLoops dispatched_hot_loops() { return hot_loop_choice().path; }
inline const std::string& simd_override_problem() { return hot_loop_choice().problem; }

// True when the hot loops that have no AVX-512 copy (the convolutions) run their AVX2+FMA copy.
inline bool dispatch_avx2_fma() { return dispatched_hot_loops() != HotLoops::baseline; }

}  // namespace neuralfx
