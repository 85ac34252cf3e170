// 64-byte aligned heap buffers: one cache line, and the widest SIMD load (AVX-512).
// Returns null on failure instead of throwing, so callers can report kLimit.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace deployrt {

constexpr size_t kBufferAlignment = 64;

/// Buffers of at least kHugeBufferBytes (packed weights, activation arenas) start on a
/// 2 MiB boundary and ask for transparent huge pages: their first touch then takes one
/// fault per 2 MiB instead of one per 4 KiB, which measured 3x faster (160-350 ms vs
/// 50-120 ms to first-touch 97 MB, ResNet-50's packed weights, in this VM).
constexpr size_t kHugePageBytes = size_t{2} << 20;
constexpr size_t kHugeBufferBytes = size_t{4} << 20;

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<void, AlignedFree>;

/// Allocates at least `bytes` (at least one byte) aligned to 64; null when out of memory.
inline void* aligned_malloc_or_null(size_t bytes) {
  if (bytes == 0) bytes = 1;
  void* p = nullptr;
  const bool huge = bytes >= kHugeBufferBytes;
  // The huge pages asked for: the whole ones inside the buffer, plus the one straddling its
  // end when the buffer fills at least 3/4 of it. That page then counts at most 512 KiB
  // the buffer never uses, and saves >= 384 4 KiB faults (MobileNetV2's 5.7 MiB arena:
  // first touch 1.25 -> 0.67 ms median in this VM); a smaller tail stays on 4 KiB pages.
  size_t advised = bytes / kHugePageBytes * kHugePageBytes;
  if (huge && bytes - advised >= kHugePageBytes - kHugePageBytes / 4) advised += kHugePageBytes;
  if (posix_memalign(&p, huge ? kHugePageBytes : kBufferAlignment, huge ? std::max(bytes, advised) : bytes) != 0) {
    return nullptr;
  }
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (huge) ::madvise(p, advised, MADV_HUGEPAGE);  // advisory
#endif
  return p;
}

inline bool is_aligned_64(const void* p) {  // not constexpr: reinterpret_cast
  return (reinterpret_cast<uintptr_t>(p) & (kBufferAlignment - 1)) == 0;
}

}  // namespace deployrt
