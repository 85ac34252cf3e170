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
    window_row_taps(s, x, oh, out, [](float& o, float v, int64_t) { o = max_keep_nan(o, v); });
  }
}

}  // namespace deployrt
