// Scalar reference broadcasting binary ops (f32): add with alpha, and mul.
#pragma once

#include <cstdint>

#include "deployrt/deployrt.h"
#include "kernels/epilogue.h"

namespace deployrt {

/// How to walk two broadcast inputs along their output. Built by ops/broadcast.cc with
/// size-1 dims dropped and mergeable neighbours merged, so rank is small and the innermost
/// dim is long. Strides are in elements and 0 where an input is broadcast; the innermost
/// strides are therefore 0 or 1.
struct BroadcastPlan {
  int rank = 1;
  int64_t dims[kMaxRank] = {1};
  int64_t a_strides[kMaxRank] = {};
  int64_t b_strides[kMaxRank] = {};
  /// Rows = product of all dims but the innermost; each row is dims[rank - 1] elements.
  int64_t rows() const {
    int64_t n = 1;
    for (int i = 0; i + 1 < rank; ++i) n *= dims[i];
    return n;
  }
  int64_t row_length() const { return dims[rank - 1]; }
};

/// y = clamp(a + alpha * b, act.min, act.max) over output rows [row_begin, row_end)
/// (exactly a + b when alpha is 1).
void f32_add_ref(const BroadcastPlan& plan, const float* a, const float* b, float alpha, Activation act, float* y,
                 int64_t row_begin, int64_t row_end);
/// y = a * b over output rows [row_begin, row_end).
void f32_mul_ref(const BroadcastPlan& plan, const float* a, const float* b, float* y, int64_t row_begin,
                 int64_t row_end);

}  // namespace deployrt
