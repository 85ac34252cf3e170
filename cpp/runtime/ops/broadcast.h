// NumPy/PyTorch broadcasting for the binary element-wise ops (add, mul, sub, div, compare,
// logical): shape inference and the iteration plan their kernels walk.
#pragma once

#include <initializer_list>

#include "kernels/reference/binary_ref.h"
#include "ops/op.h"

namespace deployrt {

/// infer() of a two-input broadcasting op: both inputs of one dtype among `dtypes`, shapes
/// broadcastable; fills node.outputs with the broadcast shape, of dtype `out_dtype` (or the
/// inputs' dtype when out_dtype is kInvalid).
Status infer_broadcast(NodeInfo& node, std::initializer_list<DType> dtypes, DType out_dtype);

/// Plan for walking a and b along out (= their broadcast shape, already validated).
BroadcastPlan make_broadcast_plan(const TensorDesc& a, const TensorDesc& b, const TensorDesc& out);

}  // namespace deployrt
