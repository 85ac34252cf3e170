// The walk every broadcasting element-wise kernel shares: rows of a BroadcastPlan, with a
// separate loop per innermost-stride case so each is a plain loop the compiler can
// vectorize. Templated on element types so f32, i64 and bool ops (and ops whose output
// type differs from their inputs', like compare) use the same walk.
#pragma once

#include <cstdint>

#include "kernels/reference/binary_ref.h"

namespace deployrt {

/// Offsets of row `row` in a and b: decompose the row index over the outer dims.
inline void broadcast_row_offsets(const BroadcastPlan& plan, int64_t row, int64_t* a_offset, int64_t* b_offset) {
  int64_t a = 0, b = 0;
  for (int d = plan.rank - 2; d >= 0; --d) {
    const int64_t index = row % plan.dims[d];
    row /= plan.dims[d];
    a += index * plan.a_strides[d];
    b += index * plan.b_strides[d];
  }
  *a_offset = a;
  *b_offset = b;
}

/// y[i] = op(a[..], b[..]) over output rows [row_begin, row_end).
template <class A, class B, class Y, class Op>
void broadcast_for_each_row(const BroadcastPlan& plan, const A* a, const B* b, Y* y, int64_t row_begin,
                            int64_t row_end, Op op) {
  const int64_t n = plan.row_length();
  const bool a_step = plan.a_strides[plan.rank - 1] != 0;
  const bool b_step = plan.b_strides[plan.rank - 1] != 0;
  for (int64_t row = row_begin; row < row_end; ++row) {
    int64_t a_offset = 0, b_offset = 0;
    broadcast_row_offsets(plan, row, &a_offset, &b_offset);
    const A* pa = a + a_offset;
    const B* pb = b + b_offset;
    Y* py = y + row * n;
    if (a_step && b_step) {
      for (int64_t i = 0; i < n; ++i) py[i] = op(pa[i], pb[i]);
    } else if (a_step) {
      const B vb = *pb;
      for (int64_t i = 0; i < n; ++i) py[i] = op(pa[i], vb);
    } else if (b_step) {
      const A va = *pa;
      for (int64_t i = 0; i < n; ++i) py[i] = op(va, pb[i]);
    } else {
      const Y v = op(*pa, *pb);
      for (int64_t i = 0; i < n; ++i) py[i] = v;
    }
  }
}

}  // namespace deployrt
