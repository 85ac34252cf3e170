#include "kernels/reference/softmax_ref.h"

#include <cmath>
#include <limits>

namespace deployrt {

void f32_softmax_ref(const float* x, float* y, int64_t axis_size, int64_t inner, int64_t outer_begin,
                     int64_t outer_end) {
  for (int64_t o = outer_begin; o < outer_end; ++o) {
    for (int64_t j = 0; j < inner; ++j) {
      const float* in = x + o * axis_size * inner + j;
      float* out = y + o * axis_size * inner + j;
      // Subtracting the max keeps exp() from overflowing; NaN inputs propagate through it.
      float max_value = -std::numeric_limits<float>::infinity();
      for (int64_t k = 0; k < axis_size; ++k) {
        const float v = in[k * inner];
        if (v > max_value || std::isnan(v)) max_value = v;
      }
      float sum = 0.0f;
      for (int64_t k = 0; k < axis_size; ++k) {
        const float e = std::exp(in[k * inner] - max_value);
        out[k * inner] = e;
        sum += e;
      }
      const float inv_sum = 1.0f / sum;
      for (int64_t k = 0; k < axis_size; ++k) out[k * inner] *= inv_sum;
    }
  }
}

}  // namespace deployrt
