// Scalar reference mean over a set of dims (f32 in and out, accumulated in f64).
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

/// Computes outputs [begin, end) of the flat output (kept dims, row-major).
void f32_mean_ref(const MeanPlan& plan, const float* x, float* y, int64_t begin, int64_t end);

}  // namespace deployrt
