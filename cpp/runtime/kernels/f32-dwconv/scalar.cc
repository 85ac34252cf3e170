// Portable depthwise kernel (DEPLOYRT_ISA=scalar, aarch64): one output row at a time, kept
// in L1, with each tap added over the columns that read inside the input row. The inner
// loops are contiguous (for stride 1) so the compiler vectorizes them for the baseline ISA.
#include <algorithm>

#include "kernels/epilogue.h"
#include "kernels/f32-dwconv/dwconv.h"
#include "kernels/window2d/columns.h"

namespace deployrt {

void f32_dwconv_scalar(const DwConvPlane& p, const float* x, const float* w, float bias, const float* residual,
                       float* y) {
  const int64_t ow_count = p.out_width;
  for (int64_t oh = 0; oh < p.out_height; ++oh) {
    float* out = y + oh * ow_count;
    std::fill(out, out + ow_count, bias);
    for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
      const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
      if (ih < 0 || ih >= p.in_height) continue;
      const float* in_row = x + ih * p.in_width;
      for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
        const int64_t off = kw * p.dilation_w - p.pad_left;
        int64_t lo = 0, hi = 0;
        window_columns_inside(off, off, p.stride_w, p.in_width, ow_count, &lo, &hi);
        const float wk = w[kh * p.kernel_w + kw];
        if (p.stride_w == 1) {
          for (int64_t ow = lo; ow < hi; ++ow) out[ow] += wk * in_row[ow + off];
        } else {
          for (int64_t ow = lo; ow < hi; ++ow) out[ow] += wk * in_row[ow * p.stride_w + off];
        }
      }
    }
    if (residual != nullptr) {
      const float* r = residual + oh * ow_count;
      for (int64_t ow = 0; ow < ow_count; ++ow) out[ow] += r[ow];
    }
    for (int64_t ow = 0; ow < ow_count; ++ow) out[ow] = clamp_keep_nan(out[ow], p.min, p.max);
  }
}

}  // namespace deployrt
