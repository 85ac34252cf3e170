// Scalar reference data movement (f32): plain copies for reshape/flatten, slices for cat.
#pragma once

#include <cstdint>

namespace deployrt {

/// y[i] = x[i] for i in [begin, end).
void f32_copy_ref(const float* x, float* y, int64_t begin, int64_t end);

/// One input of a concatenation: x viewed as [outer, slice] is copied into y viewed as
/// [outer, out_row] at column `column`, for outer rows [outer_begin, outer_end).
void f32_concat_slice_ref(const float* x, int64_t slice, float* y, int64_t out_row, int64_t column,
                          int64_t outer_begin, int64_t outer_end);

}  // namespace deployrt
