// The packed A panels of a convolution's constant weight, shared by the two GEMM paths:
// im2col + GEMM (ops/conv2d.cc) and the indirect GEMM (ops/conv2d_igemm.cc) pack the same
// bytes under the same key (weight, tile height, groups), so a prepacked archive serves both.
#pragma once

#include <memory>

#include "core/aligned_alloc.h"
#include "kernels/f32-conv/conv_gemm.h"
#include "ops/validate.h"
#include "ops/weight_cache.h"

namespace deployrt {

/// The A panels of input 1 (weight [OC, C/groups, KH, KW], a constant) for `plan`
/// (ConvGemmPlan or ConvIgemmPlan), packed once per Module through the weight cache and
/// spread over the load pool; null when out of memory.
template <class Plan>
std::shared_ptr<const void> conv_weight_panels(const NodeInfo& node, const Plan& plan) {
  const float* weight = constant_f32(node, 1);
  const int64_t panels = plan.shape.groups * plan.m_panels;
  const size_t bytes = static_cast<size_t>(panels * plan.a_panel_floats()) * sizeof(float);
  return packed_weights(node, {weight, kConvGemmPacking, {plan.ukernel.mr, plan.shape.groups, 0}}, bytes, [&] {
    AlignedBuffer buffer(aligned_malloc_or_null(bytes));
    if (buffer) {
      float* out = static_cast<float*>(buffer.get());
      parallel_pack(panels, plan.a_panel_floats() * int64_t{sizeof(float)},
                    [&](int64_t begin, int64_t end) { pack_conv_weight_panels(plan, weight, out, begin, end); });
    }
    return buffer;
  });
}

}  // namespace deployrt
