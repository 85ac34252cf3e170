// 64-byte aligned heap buffers: one cache line, and the widest SIMD load (AVX-512).
// Returns null on failure instead of throwing, so callers can report kLimit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace deployrt {

constexpr size_t kBufferAlignment = 64;

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<void, AlignedFree>;

/// Allocates at least `bytes` (at least one byte) aligned to 64; null when out of memory.
inline void* aligned_malloc_or_null(size_t bytes) {
  if (bytes == 0) bytes = 1;
  void* p = nullptr;
  if (posix_memalign(&p, kBufferAlignment, bytes) != 0) return nullptr;
  return p;
}

inline bool is_aligned_64(const void* p) {  // not constexpr: reinterpret_cast
  return (reinterpret_cast<uintptr_t>(p) & (kBufferAlignment - 1)) == 0;
}

}  // namespace deployrt
