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

/// The portable kernels' walk over output row `oh` of a 2-d window on one plane (`s` has
/// the Pool2dShape / DwConvPlane fields): update(out[ow], x[ih, iw], kh * kernel_w + kw)
/// for every tap inside the plane, taps in (kh, kw) order; taps in the padding are skipped.
template <class Shape, class Update>
inline void window_row_taps(const Shape& s, const float* x, int64_t oh, float* out, Update update) {
  for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
    const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
    if (ih < 0 || ih >= s.in_height) continue;
    const float* in_row = x + ih * s.in_width;
    for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
      const int64_t off = kw * s.dilation_w - s.pad_left, tap = kh * s.kernel_w + kw;
      int64_t lo = 0, hi = 0;
      window_columns_inside(off, off, s.stride_w, s.in_width, s.out_width, &lo, &hi);
      if (s.stride_w == 1) {
        for (int64_t ow = lo; ow < hi; ++ow) update(out[ow], in_row[ow + off], tap);
      } else {
        for (int64_t ow = lo; ow < hi; ++ow) update(out[ow], in_row[ow * s.stride_w + off], tap);
      }
    }
  }
}

/// The address of x[offset] as an integer computation: `offset` may be negative (a masked
/// load whose first lanes fall in the left padding); only unmasked lanes are ever read.
inline const float* at(const float* x, int64_t offset) {
  return reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(x) + static_cast<uintptr_t>(offset * 4));
}

}  // namespace
}  // namespace deployrt
