// NumPy/PyTorch broadcasting for the binary element-wise ops (add, mul): shape inference
// and the iteration plan their kernels walk.
#pragma once

#include "kernels/reference/binary_ref.h"
#include "ops/op.h"

namespace deployrt {

/// infer() of a two-input broadcasting op: both inputs f32, shapes broadcastable; fills
/// node.outputs with the broadcast shape.
Status infer_broadcast_binary(NodeInfo& node);

/// Plan for walking a and b along out (= their broadcast shape, already validated).
BroadcastPlan make_broadcast_plan(const TensorDesc& a, const TensorDesc& b, const TensorDesc& out);

}  // namespace deployrt
