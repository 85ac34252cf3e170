// im2col straight into the GEMM's packed-B panel layout, for conv2d as
//   Y[OC, OH*OW] = W[OC, C*KH*KW] x im2col(X)[C*KH*KW, OH*OW]   (per image and group).
#pragma once

#include <cstdint>

#include "kernels/reference/conv2d_ref.h"

namespace deployrt {

/// Writes columns [col0, col0 + nr_pack) of one image-group's im2col matrix as a [k][nr_pack]
/// panel (k = C/groups * KH * KW, row index (c * KH + kh) * KW + kw). x_group points at the
/// group's first input plane. Columns at or past OH*OW and padding taps are zero.
void f32_im2col_panel(const Conv2dShape& shape, const float* x_group, int64_t col0, int nr_pack, float* out);

}  // namespace deployrt
