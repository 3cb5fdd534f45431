#pragma once
// Flush-to-zero / denormals-are-zero for the scope of one process() call: recurrent state
// decaying towards zero otherwise turns subnormal and costs 100x per operation on x86.

#if defined(__SSE__) || defined(_M_X64) || defined(__x86_64__)
#include <xmmintrin.h>
#define NEURALFX_HAS_MXCSR 1
#endif

namespace neuralfx {

class ScopedFlushDenormals {
public:
    ScopedFlushDenormals() {
#if defined(NEURALFX_HAS_MXCSR)
        saved_ = _mm_getcsr();
        _mm_setcsr(saved_ | 0x8040);  // FTZ (bit 15) | DAZ (bit 6)
#elif defined(__aarch64__)
        asm volatile("mrs %0, fpcr" : "=r"(saved_));
        unsigned long long fz = saved_ | (1ull << 24);
        asm volatile("msr fpcr, %0" : : "r"(fz));
#endif
    }
    ~ScopedFlushDenormals() {
#if defined(NEURALFX_HAS_MXCSR)
        _mm_setcsr(saved_);
#elif defined(__aarch64__)
        asm volatile("msr fpcr, %0" : : "r"(saved_));
#endif
    }
    ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
    ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

private:
#if defined(NEURALFX_HAS_MXCSR)
    unsigned int saved_ = 0;
#else
    unsigned long long saved_ = 0;
#endif
};

}  // namespace neuralfx
