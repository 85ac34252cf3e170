// The optional fused-activation attributes act_min / act_max (docs/ops.md "Fused
// epilogues"), shared by conv2d, linear and add.
#pragma once

#include "kernels/epilogue.h"
#include "ops/op.h"

namespace deployrt {

/// Reads act_min (default -inf) and act_max (default +inf). Either must be FLOAT when
/// present; NaN, or act_min > act_max, is an archive error.
Status read_activation_attrs(const NodeInfo& node, Activation* out);

/// Optional input `index` (the fused residual): absent, or exactly `output`'s descriptor.
Status check_optional_residual(const NodeInfo& node, size_t index, const TensorDesc& output);

}  // namespace deployrt
