#pragma once
// Float buffers that start on a cache line, for the hot loops' state and weights.
//
// The vector loops read and write rows of 8 or 16 floats (32 or 64 bytes). In a buffer malloc
// aligned to 16 bytes only, such a row can straddle two cache lines, so that every load and
// store of it touches two, and which case a block got depended on what the heap held before it:
// the same LSTM-32 (16-lane copy, Zen 4 EPYC, block 64) ran 6.9-8.6 M samples/s with nothing
// changed but the length of the bench's command line, and 8.6-8.7 M with these buffers.

#include <cstddef>
#include <new>
#include <vector>

namespace neuralfx {

constexpr std::size_t kCacheLineBytes = 64;

template <class T>
struct CacheAlignedAllocator {
    using value_type = T;
    CacheAlignedAllocator() = default;
    template <class U>
    CacheAlignedAllocator(const CacheAlignedAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) {
        return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(kCacheLineBytes)));
    }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t(kCacheLineBytes)); }
    template <class U>
    bool operator==(const CacheAlignedAllocator<U>&) const noexcept { return true; }
    template <class U>
    bool operator!=(const CacheAlignedAllocator<U>&) const noexcept { return false; }
};

using AlignedFloats = std::vector<float, CacheAlignedAllocator<float>>;

}  // namespace neuralfx
