#include "kernels/reference/copy_ref.h"

#include <cstring>

namespace deployrt {

void f32_copy_ref(const float* x, float* y, int64_t begin, int64_t end) {
  if (end > begin && x != y) std::memcpy(y + begin, x + begin, static_cast<size_t>(end - begin) * sizeof(float));
}

void f32_concat_slice_ref(const float* x, int64_t slice, float* y, int64_t out_row, int64_t column,
                          int64_t outer_begin, int64_t outer_end) {
  if (slice == 0) return;
  for (int64_t o = outer_begin; o < outer_end; ++o) {
    std::memcpy(y + o * out_row + column, x + o * slice, static_cast<size_t>(slice) * sizeof(float));
  }
}

}  // namespace deployrt
