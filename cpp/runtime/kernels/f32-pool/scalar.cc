// Portable max-pool (DEPLOYRT_ISA=scalar, aarch64, and shapes too large for the SIMD
// variants' int32 offsets): one output row at a time, kept in L1, with each tap applied
// over the columns that read inside the input row, so the inner loops carry no bounds
// checks (and are contiguous for stride 1, which the compiler vectorizes).
#include <algorithm>
#include <limits>

#include "kernels/f32-pool/pool.h"
#include "kernels/window2d/columns.h"

namespace deployrt {

namespace {

// The reference's update: a larger value wins, a NaN always wins and then stays (nothing
// compares greater than NaN).
inline float max_keep_nan(float acc, float v) { return (v > acc || v != v) ? v : acc; }

}  // namespace

void f32_max_pool2d_scalar(const Pool2dShape& s, const float* x, float* y) {
  const int64_t ow_count = s.out_width;
  for (int64_t oh = 0; oh < s.out_height; ++oh) {
    float* out = y + oh * ow_count;
    std::fill(out, out + ow_count, -std::numeric_limits<float>::infinity());
    for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
      const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
      if (ih < 0 || ih >= s.in_height) continue;
      const float* in_row = x + ih * s.in_width;
      for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
        const int64_t off = kw * s.dilation_w - s.pad_left;
        int64_t lo = 0, hi = 0;
        window_columns_inside(off, off, s.stride_w, s.in_width, ow_count, &lo, &hi);
        if (s.stride_w == 1) {
          for (int64_t ow = lo; ow < hi; ++ow) out[ow] = max_keep_nan(out[ow], in_row[ow + off]);
        } else {
          for (int64_t ow = lo; ow < hi; ++ow) out[ow] = max_keep_nan(out[ow], in_row[ow * s.stride_w + off]);
        }
      }
    }
  }
}

}  // namespace deployrt
