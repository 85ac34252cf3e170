// conv2d through Winograd F(4x4, 3x3) (kernels/f32-winograd): when it is chosen, and the
// OpKernel that runs it. conv2d.cc asks winograd_wins() and then create_conv2d_winograd().
#pragma once

#include <memory>

#include "kernels/epilogue.h"
#include "kernels/reference/conv2d_ref.h"
#include "ops/op.h"

namespace deployrt {

/// Whether Winograd beats im2col + packed GEMM for this conv (constant weights assumed).
bool winograd_wins(const Conv2dShape& shape);

/// The kernel for a node winograd_wins() accepted; weights transformed and packed here, once.
Result<std::unique_ptr<OpKernel>> create_conv2d_winograd(const NodeInfo& node, const Conv2dShape& shape,
                                                         Activation act);

}  // namespace deployrt
