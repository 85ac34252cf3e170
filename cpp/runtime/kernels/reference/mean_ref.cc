#include "kernels/reference/mean_ref.h"

namespace deployrt {

void f32_mean_ref(const MeanPlan& p, const float* x, float* y, int64_t begin, int64_t end) {
  for (int64_t out = begin; out < end; ++out) {
    y[out] = static_cast<float>(reduce_sum_at<float, double>(p, x, out) / static_cast<double>(p.reduced_count));
  }
}

void f32_sum_ref(const MeanPlan& p, const float* x, float* y, int64_t begin, int64_t end) {
  for (int64_t out = begin; out < end; ++out) y[out] = static_cast<float>(reduce_sum_at<float, double>(p, x, out));
}

void i64_sum_ref(const MeanPlan& p, const int64_t* x, int64_t* y, int64_t begin, int64_t end) {
  // Unsigned accumulation wraps instead of overflowing (PyTorch's int64 sum wraps too).
  for (int64_t out = begin; out < end; ++out) y[out] = static_cast<int64_t>(reduce_sum_at<int64_t, uint64_t>(p, x, out));
}

}  // namespace deployrt
