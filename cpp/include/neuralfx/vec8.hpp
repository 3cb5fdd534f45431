#pragma once
// Vec8: eight floats as one value, the width of an AVX register. With GCC/Clang it is a
// compiler vector type, so the register allocator keeps arrays of them in registers (plain
// float arrays of accumulators ended up on the stack, see layers/lstm.hpp); the same source
// compiles to two SSE halves in the baseline build and to single AVX instructions inside
// NEURALFX_TARGET_AVX2_FMA functions. x86 builds without AVX use BaselineVec8 (two native
// 16-byte vectors, below) in the baseline copy of the hot loops. Other compilers get a plain
// struct with the same operations, which is correct and left to their auto-vectorizer.

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
// Written as a - 0 (scalar - vector): GCC lowers 32-byte vector code in functions compiled
// for the baseline before inlining it into NEURALFX_TARGET_AVX2_FMA ones, and it lowered the
// initializer {a, a, ...} to a chain of SSE inserts; this form stays one vbroadcastss in the
// compile-time-sized column loops (not everywhere: recurrent.hpp's input sums and run-time-sized
// column loops broadcast from memory, vec_broadcast_from below). It is
// exact for every a (-0 stays -0), so GCC drops the subtraction and broadcasts straight from
// memory; the earlier 0 + a kept a scalar add (it turns -0 into +0) in front of every
// broadcast, on the recurrent layers' critical path (LSTM-16 ~9.5 -> ~13 M samples/s with
// the unrolled column loop of layers/recurrent.hpp).
NEURALFX_ALWAYS_INLINE Vec8 vec8_broadcast(float a) { return a - Vec8{}; }
// Lane-wise a < b ? a : b, a > b ? a : b (the vector form of the scalar selects), for any
// compiler vector type (Vec8, vec16.hpp's Vec16).
template <class V>
NEURALFX_ALWAYS_INLINE V select_min(V a, V b) {
    return a < b ? a : b;
}
template <class V>
NEURALFX_ALWAYS_INLINE V select_max(V a, V b) {
    return a > b ? a : b;
}
NEURALFX_ALWAYS_INLINE Vec8 vec8_min(Vec8 a, Vec8 b) { return select_min(a, b); }
NEURALFX_ALWAYS_INLINE Vec8 vec8_max(Vec8 a, Vec8 b) { return select_max(a, b); }

// Two native vectors used as one of twice the lanes, where a copy's target lacks the wider
// registers: Vec4x2 (below) and vec16.hpp's Vec8x2. Arithmetic works half by half.
template <class Half>
struct VecPair {
    Half lo, hi;
#define NEURALFX_VECPAIR_OP(op)                                                                  \
    friend NEURALFX_ALWAYS_INLINE VecPair operator op(VecPair a, VecPair b) { return {a.lo op b.lo, a.hi op b.hi}; } \
    friend NEURALFX_ALWAYS_INLINE VecPair operator op(VecPair a, float b) { return {a.lo op b, a.hi op b}; }        \
    friend NEURALFX_ALWAYS_INLINE VecPair operator op(float a, VecPair b) { return {a op b.lo, a op b.hi}; }        \
    NEURALFX_ALWAYS_INLINE VecPair& operator op##=(VecPair b) { return *this = *this op b; }
    NEURALFX_VECPAIR_OP(+)
    NEURALFX_VECPAIR_OP(-)
    NEURALFX_VECPAIR_OP(*)
    NEURALFX_VECPAIR_OP(/)
#undef NEURALFX_VECPAIR_OP
};

typedef float Vec4 __attribute__((vector_size(16)));

// The sum of a vector's lanes in one fixed order, in registers: halves added lane by lane until
// four lanes remain, then (s0 + s1) + (s2 + s3); for eight lanes
// ((v0 + v4) + (v1 + v5)) + ((v2 + v6) + (v3 + v7)). The recurrent layers' head sums with it
// once per sample. Overloads: Vec4, Vec8, VecPair (below), vec16.hpp's Vec16.
NEURALFX_ALWAYS_INLINE float sum_lanes(Vec4 s) { return (s[0] + s[1]) + (s[2] + s[3]); }
NEURALFX_ALWAYS_INLINE float sum_lanes(Vec8 v) {
    Vec4 lo, hi;
    std::memcpy(&lo, &v, sizeof lo);
    std::memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof lo, sizeof hi);
    return sum_lanes(lo + hi);
}

#if ((defined(__x86_64__) || defined(__i386__)) && !defined(__AVX__)) || (defined(__ARM_NEON) && !defined(__clang__))
// Where the widest vector register holds 16 bytes (x86 without AVX, ARM's NEON), GCC lowers Vec8
// code element by element where it cannot split it: on x86 broadcasts went through eight scalar
// stores and a reload, accumulators through the stack (8x slower than the AVX copy); on 64-bit
// ARM (GCC 12) every lane of the tanh clamp's min/max became a scalar compare and select. The
// baseline copy of the hot loops therefore uses this pair of native 16-byte vectors instead:
// the same eight lanes and operations, in SSE or NEON registers. Not for Clang on ARM: Clang
// fuses a multiply and an add only within one expression (its default -ffp-contract=on), the
// pair's operators split `acc += a * w` in two, and its NEON code lost every fmla (Clang 14,
// objdump); Clang splits Vec8 into NEON halves itself.
using Vec4x2 = VecPair<Vec4>;
NEURALFX_ALWAYS_INLINE Vec4x2 vec4x2_load(const float* p) {
    Vec4x2 v;
    std::memcpy(&v.lo, p, sizeof v.lo);
    std::memcpy(&v.hi, p + 4, sizeof v.hi);
    return v;
}
NEURALFX_ALWAYS_INLINE void vec_store(float* p, Vec4x2 v) {
    std::memcpy(p, &v.lo, sizeof v.lo);
    std::memcpy(p + 4, &v.hi, sizeof v.hi);
}
NEURALFX_ALWAYS_INLINE Vec4x2 vec_min(Vec4x2 a, Vec4x2 b) {
    return {a.lo < b.lo ? a.lo : b.lo, a.hi < b.hi ? a.hi : b.hi};
}
NEURALFX_ALWAYS_INLINE Vec4x2 vec_max(Vec4x2 a, Vec4x2 b) {
    return {a.lo > b.lo ? a.lo : b.lo, a.hi > b.hi ? a.hi : b.hi};
}
// The eight-float type for code compiled for the build's own target (the baseline copy).
using BaselineVec8 = Vec4x2;
#define NEURALFX_HAS_VEC4X2 1
#else
using BaselineVec8 = Vec8;
#endif
template <class Half>
NEURALFX_ALWAYS_INLINE float sum_lanes(VecPair<Half> v) {
    return sum_lanes(v.lo + v.hi);
}

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
NEURALFX_ALWAYS_INLINE float sum_lanes(Vec8 v) {
    return ((v.v[0] + v.v[4]) + (v.v[1] + v.v[5])) + ((v.v[2] + v.v[6]) + (v.v[3] + v.v[7]));
}

#endif

#if !(defined(__GNUC__) || defined(__clang__))
using BaselineVec8 = Vec8;
#endif

// One spelling for both eight-float types, so the hot loops are written once as templates:
// vec_load<V>(p), vec_broadcast<V>(a), vec_store(p, v), vec_min(a, b), vec_max(a, b).
template <class V>
V vec_load(const float* p);
template <class V>
V vec_broadcast(float a);
template <>
NEURALFX_ALWAYS_INLINE Vec8 vec_load<Vec8>(const float* p) { return vec8_load(p); }
template <>
NEURALFX_ALWAYS_INLINE Vec8 vec_broadcast<Vec8>(float a) { return vec8_broadcast(a); }
NEURALFX_ALWAYS_INLINE void vec_store(float* p, Vec8 v) { vec8_store(p, v); }
#if NEURALFX_X86_GCC_ASM
// One vminps / vmaxps. GCC lowers the select form (vec8_min) to a compare and a blend, two
// dependent instructions, and the tanh clamp sits on the recurrent layers' critical path twice
// per sample. Same lane semantics as the select (the second operand when either is NaN).
// Inline assembly for the reason given at vec_broadcast_from below.
NEURALFX_ALWAYS_INLINE Vec8 vec_min(Vec8 a, Vec8 b) {
    Vec8 r;
    asm("vminps %2, %1, %0" : "=x"(r) : "x"(a), "xm"(b));
    return r;
}
NEURALFX_ALWAYS_INLINE Vec8 vec_max(Vec8 a, Vec8 b) {
    Vec8 r;
    asm("vmaxps %2, %1, %0" : "=x"(r) : "x"(a), "xm"(b));
    return r;
}
#else
NEURALFX_ALWAYS_INLINE Vec8 vec_min(Vec8 a, Vec8 b) { return vec8_min(a, b); }
NEURALFX_ALWAYS_INLINE Vec8 vec_max(Vec8 a, Vec8 b) { return vec8_max(a, b); }
#endif
#if defined(NEURALFX_HAS_VEC4X2)
template <>
NEURALFX_ALWAYS_INLINE Vec4x2 vec_load<Vec4x2>(const float* p) { return vec4x2_load(p); }
template <>
NEURALFX_ALWAYS_INLINE Vec4x2 vec_broadcast<Vec4x2>(float a) {
    const Vec4 v = a - Vec4{};
    return {v, v};
}
#endif

// *p in every lane. The generic form is vec_broadcast of the loaded value; for Vec8 on x86 GCC
// turns that into a scalar add (see vec8_broadcast) and a register broadcast, two instructions
// where one vbroadcastss from memory does: in the convolution layers (layers/conv_common.hpp),
// with one broadcast per two multiply-adds, they are a large share of the loop. An intrinsic
// cannot be used here (this header is compiled for the baseline and only inlined into the
// AVX2+FMA copies; GCC refuses to inline AVX intrinsics into baseline code), so it is one
// instruction of inline assembly. Vec8 code on x86 only runs where AVX is present: in the
// AVX2+FMA copies, or in builds that target AVX (vec8.hpp's BaselineVec8 is SSE otherwise).
template <class V>
NEURALFX_ALWAYS_INLINE V vec_broadcast_from(const float* p) {
    return vec_broadcast<V>(*p);
}
#if NEURALFX_X86_GCC_ASM
template <>
NEURALFX_ALWAYS_INLINE Vec8 vec_broadcast_from<Vec8>(const float* p) {
    Vec8 v;
    asm("vbroadcastss %1, %0" : "=x"(v) : "m"(*p));
    return v;
}
#endif

}  // namespace neuralfx
