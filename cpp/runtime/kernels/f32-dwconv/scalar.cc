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
    window_row_taps(p, x, oh, out, [w](float& o, float v, int64_t tap) { o += w[tap] * v; });
    if (residual != nullptr) {
      const float* r = residual + oh * ow_count;
      for (int64_t ow = 0; ow < ow_count; ++ow) out[ow] += r[ow];
    }
    for (int64_t ow = 0; ow < ow_count; ++ow) out[ow] = clamp_keep_nan(out[ow], p.min, p.max);
  }
}

}  // namespace deployrt
