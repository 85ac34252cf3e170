#include "kernels/reference/linear_ref.h"

namespace deployrt {

namespace {

// Eight independent partial sums: the compiler vectorizes the lanes without needing
// permission to reassociate one serial sum.
float dot(const float* a, const float* b, int64_t n) {
  constexpr int kLanes = 8;
  float partial[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) partial[l] += a[i + l] * b[i + l];
  }
  float sum = 0.0f;
  for (int l = 0; l < kLanes; ++l) sum += partial[l];
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace

void f32_linear_ref(const float* x, const float* weight, const float* bias, const float* residual, Activation act,
                    float* y, int64_t in_features, int64_t out_features, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const int64_t m = i / out_features;
    const int64_t o = i % out_features;
    const float acc = dot(x + m * in_features, weight + o * in_features, in_features);
    float v = bias != nullptr ? acc + bias[o] : acc;
    if (residual != nullptr) v += residual[i];
    y[i] = clamp_keep_nan(v, act.min, act.max);
  }
}

}  // namespace deployrt
