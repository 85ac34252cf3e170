// Scalar reference per-channel affine map, the inference form of batch norm:
//   y[n, c, i] = x[n, c, i] * scale[c] + shift[c]   for x viewed as [N, C, inner].
#pragma once

#include <cstdint>

namespace deployrt {

/// Processes rows [row_begin, row_end) of the [N*C, inner] view; row r has channel r % channels.
void f32_channel_affine_ref(const float* x, const float* scale, const float* shift, float* y,
                            int64_t channels, int64_t inner, int64_t row_begin, int64_t row_end);

/// PyTorch's inference batch-norm fold, for channels [0, channels):
///   scale = weight / sqrt(var + eps), shift = bias - mean * scale
/// (weight = 1 and bias = 0 when null), computed in f32 as ATen does.
void f32_batch_norm_fold_ref(const float* mean, const float* var, const float* weight, const float* bias,
                             float eps, int64_t channels, float* scale, float* shift);

}  // namespace deployrt
