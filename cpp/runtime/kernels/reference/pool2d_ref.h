// Scalar reference 2-D pooling (NCHW, f32), matching PyTorch's CPU kernels window for window.
#pragma once

#include <cstdint>

namespace deployrt {

/// Geometry of one pooling node; planes = N * C. All values already validated by the op.
struct Pool2dShape {
  int64_t planes = 0, in_height = 0, in_width = 0, out_height = 0, out_width = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;  // max pooling only
};

/// F.max_pool2d over planes [plane_begin, plane_end). Padding never wins (it is -inf);
/// NaN propagates: a window holding a NaN yields NaN.
void f32_max_pool2d_ref(const Pool2dShape& shape, const float* x, float* y, int64_t plane_begin,
                        int64_t plane_end);

/// F.avg_pool2d over planes [plane_begin, plane_end). divisor_override = 0 means none;
/// otherwise it replaces the window size as the divisor.
void f32_avg_pool2d_ref(const Pool2dShape& shape, bool count_include_pad, int64_t divisor_override,
                        const float* x, float* y, int64_t plane_begin, int64_t plane_end);

/// F.adaptive_avg_pool2d over planes [plane_begin, plane_end): output cell i averages input
/// rows [floor(i*H/OH), ceil((i+1)*H/OH)) (likewise columns). Kernel/stride/pad fields unused.
void f32_adaptive_avg_pool2d_ref(const Pool2dShape& shape, const float* x, float* y, int64_t plane_begin,
                                 int64_t plane_end);

}  // namespace deployrt
