// Column arithmetic of the 2-d window kernels (max pool, depthwise conv): which output
// columns read inside the input row (the kernels run those without bounds checks or masks),
// and masked-load addresses. Portable integer code, included by translation units of every
// ISA: the unnamed namespace gives each its own copy, compiled with its own flags, so the
// linker never substitutes one compiled for another ISA.
#pragma once

#include <algorithm>
#include <cstdint>

namespace deployrt {
namespace {

/// Output columns [*lo, *hi) of `count` for which every input column ow*stride + off with
/// off in [off_first, off_last] is inside [0, limit). Empty (lo >= hi) when none is.
inline void window_columns_inside(int64_t off_first, int64_t off_last, int64_t stride, int64_t limit, int64_t count,
                                  int64_t* lo, int64_t* hi) {
  // The first offset bounds the low end, the last one the high end.
  const int64_t first = off_first >= 0 ? 0 : (-off_first + stride - 1) / stride;
  const int64_t end = off_last >= limit ? 0 : (limit - off_last + stride - 1) / stride;
  *lo = std::min(first, count);
  *hi = std::max(*lo, std::min(end, count));
}

/// The address of x[offset] as an integer computation: `offset` may be negative (a masked
/// load whose first lanes fall in the left padding); only unmasked lanes are ever read.
inline const float* at(const float* x, int64_t offset) {
  return reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(x) + static_cast<uintptr_t>(offset * 4));
}

}  // namespace
}  // namespace deployrt
