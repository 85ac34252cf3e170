#include "kernels/reference/mean_ref.h"

namespace deployrt {

void f32_mean_ref(const MeanPlan& p, const float* x, float* y, int64_t begin, int64_t end) {
  for (int64_t out = begin; out < end; ++out) {
    // Input offset of this output element.
    int64_t base = 0;
    int64_t rest = out;
    for (int d = p.kept_rank - 1; d >= 0; --d) {
      base += (rest % p.kept_dims[d]) * p.kept_strides[d];
      rest /= p.kept_dims[d];
    }
    // Walk the reduced index space; the innermost reduced dim is a simple strided loop.
    double sum = 0.0;
    const int inner_dim = p.reduced_rank - 1;
    const int64_t inner_count = p.reduced_rank > 0 ? p.reduced_dims[inner_dim] : 1;
    const int64_t inner_stride = p.reduced_rank > 0 ? p.reduced_strides[inner_dim] : 0;
    const int64_t outer_count = inner_count > 0 ? p.reduced_count / inner_count : 0;
    for (int64_t r = 0; r < outer_count; ++r) {
      int64_t offset = base;
      int64_t index = r;
      for (int d = inner_dim - 1; d >= 0; --d) {
        offset += (index % p.reduced_dims[d]) * p.reduced_strides[d];
        index /= p.reduced_dims[d];
      }
      for (int64_t i = 0; i < inner_count; ++i) sum += x[offset + i * inner_stride];
    }
    y[out] = static_cast<float>(sum / static_cast<double>(p.reduced_count));
  }
}

}  // namespace deployrt
