// Scalar reference 2-D convolution (NCHW, f32): the oracle for every optimized conv kernel.
#pragma once

#include <cstdint>

#include "kernels/epilogue.h"

namespace deployrt {

/// Geometry of one conv2d node; all values already validated by the op.
struct Conv2dShape {
  int64_t batch = 0, in_channels = 0, in_height = 0, in_width = 0;
  int64_t out_channels = 0, out_height = 0, out_width = 0;
  int64_t kernel_h = 0, kernel_w = 0;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0;  // bottom/right padding only shows in out_height/out_width
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
};

/// Computes the output planes [plane_begin, plane_end), plane = n * out_channels + oc, of
///   y[n, oc] = bias[oc] + sum_{ic in group(oc), kh, kw} w[oc, ic, kh, kw] * x[n, ic, ih, iw]
/// with ih = oh*stride_h - pad_top + kh*dilation_h (likewise iw) and zero padding.
/// then the fused epilogue y = clamp(y + residual, act.min, act.max) (residual may be null).
/// Layouts: x [N, C, H, W]; weight [OC, C/groups, KH, KW]; bias [OC] or null; y and
/// residual [N, OC, OH, OW].
void f32_conv2d_ref(const Conv2dShape& shape, const float* x, const float* weight, const float* bias,
                    const float* residual, Activation act, float* y, int64_t plane_begin, int64_t plane_end);

}  // namespace deployrt
