// Scalar reference softmax (f32), numerically stable: exp(x - max) / sum(exp(x - max)).
#pragma once

#include <cstdint>

namespace deployrt {

/// x viewed as [outer, axis_size, inner]; softmax along the middle dim for outer rows
/// [outer_begin, outer_end). A line of all -inf gives NaN, as in PyTorch.
void f32_softmax_ref(const float* x, float* y, int64_t axis_size, int64_t inner, int64_t outer_begin,
                     int64_t outer_end);

}  // namespace deployrt
