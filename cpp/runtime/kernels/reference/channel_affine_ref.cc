#include "kernels/reference/channel_affine_ref.h"

#include <cmath>

namespace deployrt {

void f32_channel_affine_ref(const float* x, const float* scale, const float* shift, float* y,
                            int64_t channels, int64_t inner, int64_t row_begin, int64_t row_end) {
  for (int64_t row = row_begin; row < row_end; ++row) {
    const int64_t c = row % channels;
    const float a = scale[c];
    const float b = shift[c];
    const float* in = x + row * inner;
    float* out = y + row * inner;
    for (int64_t i = 0; i < inner; ++i) out[i] = in[i] * a + b;
  }
}

void f32_batch_norm_fold_ref(const float* mean, const float* var, const float* weight, const float* bias,
                             float eps, int64_t channels, float* scale, float* shift) {
  for (int64_t c = 0; c < channels; ++c) {
    const float inv_std = 1.0f / std::sqrt(var[c] + eps);
    const float a = (weight != nullptr ? weight[c] : 1.0f) * inv_std;
    scale[c] = a;
    shift[c] = (bias != nullptr ? bias[c] : 0.0f) - mean[c] * a;
  }
}

}  // namespace deployrt
