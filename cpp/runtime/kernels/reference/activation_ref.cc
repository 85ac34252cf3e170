#include "kernels/reference/activation_ref.h"

#include <cmath>

namespace deployrt {

// The comparisons are written so that a NaN input fails them and passes through unchanged.
void f32_relu_ref(const float* x, float* y, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void f32_hardtanh_ref(const float* x, float* y, float min_value, float max_value, int64_t begin,
                      int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float v = x[i];
    y[i] = v < min_value ? min_value : (v > max_value ? max_value : v);
  }
}

void f32_sigmoid_ref(const float* x, float* y, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) y[i] = 1.0f / (1.0f + std::exp(-x[i]));
}

}  // namespace deployrt
