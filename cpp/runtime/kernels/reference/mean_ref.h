// Scalar reference reductions over a set of dims: mean (f32, accumulated in f64) and sum
// (f32 accumulated in f64; i64 wrapping modulo 2^64).
#pragma once

#include <cstdint>

#include "deployrt/deployrt.h"

namespace deployrt {

/// The input split into kept dims (in output order) and reduced dims, each with its input
/// stride in elements. Built by ops/mean.cc with contiguous neighbours merged.
struct MeanPlan {
  int kept_rank = 0;
  int64_t kept_dims[kMaxRank] = {};
  int64_t kept_strides[kMaxRank] = {};
  int reduced_rank = 0;
  int64_t reduced_dims[kMaxRank] = {};
  int64_t reduced_strides[kMaxRank] = {};
  int64_t reduced_count = 1;  // product of reduced_dims; 0 gives NaN as torch.mean does
};

/// Sum of the reduced elements under output element `out` (kept dims, row-major),
/// accumulated in Acc.
template <class T, class Acc>
Acc reduce_sum_at(const MeanPlan& p, const T* x, int64_t out) {
  // Input offset of this output element.
  int64_t base = 0;
  int64_t rest = out;
  for (int d = p.kept_rank - 1; d >= 0; --d) {
    base += (rest % p.kept_dims[d]) * p.kept_strides[d];
    rest /= p.kept_dims[d];
  }
  // Walk the reduced index space; the innermost reduced dim is a simple strided loop.
  Acc sum = 0;
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
    for (int64_t i = 0; i < inner_count; ++i) sum += static_cast<Acc>(x[offset + i * inner_stride]);
  }
  return sum;
}

/// Computes outputs [begin, end) of the flat output (kept dims, row-major).
void f32_mean_ref(const MeanPlan& plan, const float* x, float* y, int64_t begin, int64_t end);
/// Sums, outputs [begin, end). An empty reduction gives 0.
void f32_sum_ref(const MeanPlan& plan, const float* x, float* y, int64_t begin, int64_t end);
void i64_sum_ref(const MeanPlan& plan, const int64_t* x, int64_t* y, int64_t begin, int64_t end);

}  // namespace deployrt
