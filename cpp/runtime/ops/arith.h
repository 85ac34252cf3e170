// Shared by the broadcasting arithmetic ops on f32 and i64 (add, sub, mul, div): the
// kernel that runs the scalar reference loops of kernels/reference/scalar_ops_ref.h.
// add and mul keep their own f32 kernels (alpha, fused epilogue); their i64 form and all
// of sub and div use this one.
#pragma once

#include <memory>

#include "kernels/reference/scalar_ops_ref.h"
#include "ops/op.h"

namespace deployrt {

/// infer() of sub/div (and the dtype part of add/mul): inputs f32 or i64, same dtype, broadcast.
Status infer_arith(NodeInfo& node);

/// Kernel for a node whose infer_arith() succeeded; `alpha` scales b for kAdd on i64.
std::unique_ptr<OpKernel> make_arith_kernel(const NodeInfo& node, ArithOp op, int64_t alpha = 1);

/// OpDef::create of an op that is one ArithOp on both dtypes (sub, div).
template <ArithOp kOp>
Result<std::unique_ptr<OpKernel>> create_arith(const NodeInfo& node) {
  return make_arith_kernel(node, kOp);
}

}  // namespace deployrt
