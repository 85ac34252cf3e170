// Overflow-checked integer arithmetic. Every size or offset derived from archive
// contents goes through these: a wrapped product is how allocation bombs and
// out-of-bounds reads start (TFLite CVE-2020-15211).
#pragma once

#include <cstdint>

namespace deployrt {

/// *out = a + b; returns false (and leaves *out unspecified) on overflow.
inline bool checked_add(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_add_overflow(a, b, out); }
inline bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }
inline bool checked_add(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }
inline bool checked_mul(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }

/// Rounds up to a multiple of `align` (a power of two); false on overflow.
inline bool checked_align_up(uint64_t value, uint64_t align, uint64_t* out) {
  uint64_t sum;
  if (!checked_add(value, align - 1, &sum)) return false;
  *out = sum & ~(align - 1);
  return true;
}

}  // namespace deployrt
