#include "kernels/reference/binary_ref.h"

namespace deployrt {

namespace {

// Offsets of row `row` in a and b: decompose the row index over the outer dims.
void row_offsets(const BroadcastPlan& plan, int64_t row, int64_t* a_offset, int64_t* b_offset) {
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

// Applies op along every row. The four stride cases are separate loops so each one is a
// plain contiguous (or scalar-broadcast) loop the compiler can vectorize.
template <class Op>
void for_each_row(const BroadcastPlan& plan, const float* a, const float* b, float* y, int64_t row_begin,
                  int64_t row_end, Op op) {
  const int64_t n = plan.row_length();
  const bool a_step = plan.a_strides[plan.rank - 1] != 0;
  const bool b_step = plan.b_strides[plan.rank - 1] != 0;
  for (int64_t row = row_begin; row < row_end; ++row) {
    int64_t a_offset = 0, b_offset = 0;
    row_offsets(plan, row, &a_offset, &b_offset);
    const float* pa = a + a_offset;
    const float* pb = b + b_offset;
    float* py = y + row * n;
    if (a_step && b_step) {
      for (int64_t i = 0; i < n; ++i) py[i] = op(pa[i], pb[i]);
    } else if (a_step) {
      const float vb = *pb;
      for (int64_t i = 0; i < n; ++i) py[i] = op(pa[i], vb);
    } else if (b_step) {
      const float va = *pa;
      for (int64_t i = 0; i < n; ++i) py[i] = op(va, pb[i]);
    } else {
      const float v = op(*pa, *pb);
      for (int64_t i = 0; i < n; ++i) py[i] = v;
    }
  }
}

}  // namespace

void f32_add_ref(const BroadcastPlan& plan, const float* a, const float* b, float alpha, Activation act, float* y,
                 int64_t row_begin, int64_t row_end) {
  if (!act.is_identity()) {
    const float lo = act.min, hi = act.max;
    for_each_row(plan, a, b, y, row_begin, row_end,
                 [alpha, lo, hi](float u, float v) { return clamp_keep_nan(u + alpha * v, lo, hi); });
  } else if (alpha == 1.0f) {
    for_each_row(plan, a, b, y, row_begin, row_end, [](float u, float v) { return u + v; });
  } else {
    for_each_row(plan, a, b, y, row_begin, row_end, [alpha](float u, float v) { return u + alpha * v; });
  }
}

void f32_mul_ref(const BroadcastPlan& plan, const float* a, const float* b, float* y, int64_t row_begin,
                 int64_t row_end) {
  for_each_row(plan, a, b, y, row_begin, row_end, [](float u, float v) { return u * v; });
}

}  // namespace deployrt
