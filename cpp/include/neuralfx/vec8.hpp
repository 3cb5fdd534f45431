#pragma once
// Vec8: eight floats as one value, the width of an AVX register. With GCC/Clang it is a
// compiler vector type, so the register allocator keeps arrays of them in registers (plain
// float arrays of accumulators ended up on the stack, see layers/lstm.hpp); the same source
// compiles to two SSE halves in the baseline build and to single AVX instructions inside
// NEURALFX_TARGET_AVX2_FMA functions. Other compilers get a plain struct with the same
// operations, which is correct and left to their auto-vectorizer.

#include <cstring>

#include "cpu_dispatch.hpp"

namespace neuralfx {

#if defined(__GNUC__) || defined(__clang__)

// Vec8 values never cross a non-inlined call (every helper is always_inline), so GCC's
// -Wpsabi note (a 32-byte vector argument's ABI differs with and without AVX) does not apply;
// CMakeLists.txt turns it off for the kernel's users.
typedef float Vec8 __attribute__((vector_size(32)));

NEURALFX_ALWAYS_INLINE Vec8 vec8_load(const float* p) {
    Vec8 v;
    std::memcpy(&v, p, sizeof v);  // an unaligned load (vmovups), no aliasing assumptions
    return v;
}
NEURALFX_ALWAYS_INLINE void vec8_store(float* p, Vec8 v) { std::memcpy(p, &v, sizeof v); }
// Written as 0 + a (vector + scalar): GCC lowers 32-byte vector code in functions compiled
// for the baseline before inlining it into NEURALFX_TARGET_AVX2_FMA ones, and it lowered the
// initializer {a, a, ...} to a chain of SSE inserts; this form stays one vbroadcastss (plus a
// scalar add, which only turns -0 into +0).
NEURALFX_ALWAYS_INLINE Vec8 vec8_broadcast(float a) { return Vec8{} + a; }
// Lane-wise a < b ? a : b, a > b ? a : b (the vector form of the scalar selects).
NEURALFX_ALWAYS_INLINE Vec8 vec8_min(Vec8 a, Vec8 b) { return a < b ? a : b; }
NEURALFX_ALWAYS_INLINE Vec8 vec8_max(Vec8 a, Vec8 b) { return a > b ? a : b; }

#else

struct Vec8 {
    float v[8];
#define NEURALFX_VEC8_OP(op)                                                \
    friend Vec8 operator op(Vec8 a, Vec8 b) {                               \
        for (int k = 0; k < 8; ++k) a.v[k] = a.v[k] op b.v[k];              \
        return a;                                                           \
    }                                                                       \
    Vec8& operator op##=(Vec8 b) { return *this = *this op b; }
    NEURALFX_VEC8_OP(+)
    NEURALFX_VEC8_OP(-)
    NEURALFX_VEC8_OP(*)
    NEURALFX_VEC8_OP(/)
#undef NEURALFX_VEC8_OP
    // Scalar operands broadcast, as they do for the GCC/Clang vector type.
    friend Vec8 operator*(Vec8 a, float b) { return a * Vec8{{b, b, b, b, b, b, b, b}}; }
    friend Vec8 operator+(Vec8 a, float b) { return a + Vec8{{b, b, b, b, b, b, b, b}}; }
    friend Vec8 operator*(float a, Vec8 b) { return Vec8{{a, a, a, a, a, a, a, a}} * b; }
    friend Vec8 operator+(float a, Vec8 b) { return Vec8{{a, a, a, a, a, a, a, a}} + b; }
};
NEURALFX_ALWAYS_INLINE Vec8 vec8_load(const float* p) {
    Vec8 r;
    std::memcpy(r.v, p, sizeof r.v);
    return r;
}
NEURALFX_ALWAYS_INLINE void vec8_store(float* p, Vec8 v) { std::memcpy(p, v.v, sizeof v.v); }
NEURALFX_ALWAYS_INLINE Vec8 vec8_broadcast(float a) { return Vec8{{a, a, a, a, a, a, a, a}}; }
NEURALFX_ALWAYS_INLINE Vec8 vec8_min(Vec8 a, Vec8 b) {
    for (int k = 0; k < 8; ++k) a.v[k] = a.v[k] < b.v[k] ? a.v[k] : b.v[k];
    return a;
}
NEURALFX_ALWAYS_INLINE Vec8 vec8_max(Vec8 a, Vec8 b) {
    for (int k = 0; k < 8; ++k) a.v[k] = a.v[k] > b.v[k] ? a.v[k] : b.v[k];
    return a;
}

#endif

}  // namespace neuralfx
