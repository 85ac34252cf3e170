#include "kernels/reference/binary_ref.h"

#include "kernels/reference/broadcast_walk.h"

namespace deployrt {

void f32_add_ref(const BroadcastPlan& plan, const float* a, const float* b, float alpha, Activation act, float* y,
                 int64_t row_begin, int64_t row_end) {
  if (!act.is_identity()) {
    const float lo = act.min, hi = act.max;
    broadcast_for_each_row(plan, a, b, y, row_begin, row_end,
                           [alpha, lo, hi](float u, float v) { return clamp_keep_nan(u + alpha * v, lo, hi); });
  } else if (alpha == 1.0f) {
    broadcast_for_each_row(plan, a, b, y, row_begin, row_end, [](float u, float v) { return u + v; });
  } else {
    broadcast_for_each_row(plan, a, b, y, row_begin, row_end, [alpha](float u, float v) { return u + alpha * v; });
  }
}

void f32_mul_ref(const BroadcastPlan& plan, const float* a, const float* b, float* y, int64_t row_begin,
                 int64_t row_end) {
  broadcast_for_each_row(plan, a, b, y, row_begin, row_end, [](float u, float v) { return u * v; });
}

}  // namespace deployrt
