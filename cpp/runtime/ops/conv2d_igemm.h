// conv2d through indirect GEMM over a deinterleaved copy of the input
// (kernels/f32-conv/conv_igemm.h): when it is chosen, and the OpKernel that runs it.
// conv2d.cc asks igemm_wins() and then create_conv2d_igemm().
#pragma once

#include <memory>

#include "kernels/epilogue.h"
#include "kernels/reference/conv2d_ref.h"
#include "ops/op.h"

namespace deployrt {

/// Whether indirect GEMM beats im2col + packed GEMM for this conv (constant weights and
/// enough channels per group for GEMM assumed).
bool igemm_wins(const Conv2dShape& shape);

/// The kernel for a node igemm_wins() accepted; weights packed here, once (the same
/// panels as the im2col + GEMM path's, shared through ops/weight_cache.h).
Result<std::unique_ptr<OpKernel>> create_conv2d_igemm(const NodeInfo& node, const Conv2dShape& shape, Activation act);

}  // namespace deployrt
