#pragma once
// Sixteen-float vectors for the recurrent layers' AVX-512 copy (layers/recurrent.hpp), with the
// same spelling as the eight-float types of vec8.hpp (vec_load<V>, vec_broadcast<V>, vec_store,
// vec_min, vec_max), so the hot loop stays one template:
//  - Vec16, one AVX-512 register: a compiler vector type, used only inside functions compiled
//    for AVX-512 (NEURALFX_TARGET_AVX512);
//  - Vec8x2, the same sixteen lanes as two Vec8 (AVX registers), so the AVX-512 copy's layout
//    and arithmetic also run, and are tested, on CPUs without AVX-512 (NEURALFX_SIMD=avx2-wide16).
// GCC/Clang on x86 only; elsewhere the recurrent layers use eight-float groups alone.

#include "vec8.hpp"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define NEURALFX_HAS_VEC16 1

namespace neuralfx {

typedef float Vec16 __attribute__((vector_size(64)));

template <>
NEURALFX_ALWAYS_INLINE Vec16 vec_load<Vec16>(const float* p) {
    Vec16 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
NEURALFX_ALWAYS_INLINE void vec_store(float* p, Vec16 v) { std::memcpy(p, &v, sizeof v); }
// a - 0, as vec8_broadcast. For constants (hoisted out of the loops) it is one vbroadcastss; for a
// value loaded inside a loop GCC 12 may build it lane by lane (16 masked broadcasts), so the
// hot loops broadcast from memory with vec_broadcast_from (below).
template <>
NEURALFX_ALWAYS_INLINE Vec16 vec_broadcast<Vec16>(float a) {
    return a - Vec16{};
}
// One vbroadcastss from memory, as vec8.hpp's vec_broadcast_from<Vec8>: from the a - 0 form GCC
// loaded 16 h values as one vector and broadcast each lane with vpermps, which runs on the port
// that also issues half of the 512-bit multiply-adds on Intel cores.
#if NEURALFX_X86_GCC_ASM
template <>
NEURALFX_ALWAYS_INLINE Vec16 vec_broadcast_from<Vec16>(const float* p) {
    Vec16 v;
    asm("vbroadcastss %1, %0" : "=v"(v) : "m"(*p));
    return v;
}
#endif
// One vminps / vmaxps each, for the reason given at vec8.hpp's Vec8 forms (GCC makes a compare
// and a blend of the select); "v" lets the register allocator use all 32 AVX-512 registers.
#if NEURALFX_X86_GCC_ASM
NEURALFX_ALWAYS_INLINE Vec16 vec_min(Vec16 a, Vec16 b) {
    Vec16 r;
    asm("vminps %2, %1, %0" : "=v"(r) : "v"(a), "vm"(b));
    return r;
}
NEURALFX_ALWAYS_INLINE Vec16 vec_max(Vec16 a, Vec16 b) {
    Vec16 r;
    asm("vmaxps %2, %1, %0" : "=v"(r) : "v"(a), "vm"(b));
    return r;
}
#else
NEURALFX_ALWAYS_INLINE Vec16 vec_min(Vec16 a, Vec16 b) { return select_min(a, b); }
NEURALFX_ALWAYS_INLINE Vec16 vec_max(Vec16 a, Vec16 b) { return select_max(a, b); }
#endif

NEURALFX_ALWAYS_INLINE float sum_lanes(Vec16 v) {
    Vec8 lo, hi;
    std::memcpy(&lo, &v, sizeof lo);
    std::memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof lo, sizeof hi);
    return sum_lanes(lo + hi);
}

using Vec8x2 = VecPair<Vec8>;
template <>
NEURALFX_ALWAYS_INLINE Vec8x2 vec_load<Vec8x2>(const float* p) {
    return {vec8_load(p), vec8_load(p + 8)};
}
NEURALFX_ALWAYS_INLINE void vec_store(float* p, Vec8x2 v) {
    vec8_store(p, v.lo);
    vec8_store(p + 8, v.hi);
}
template <>
NEURALFX_ALWAYS_INLINE Vec8x2 vec_broadcast<Vec8x2>(float a) {
    const Vec8 v = vec8_broadcast(a);
    return {v, v};
}
NEURALFX_ALWAYS_INLINE Vec8x2 vec_min(Vec8x2 a, Vec8x2 b) { return {vec_min(a.lo, b.lo), vec_min(a.hi, b.hi)}; }
NEURALFX_ALWAYS_INLINE Vec8x2 vec_max(Vec8x2 a, Vec8x2 b) { return {vec_max(a.lo, b.lo), vec_max(a.hi, b.hi)}; }

}  // namespace neuralfx

#endif
