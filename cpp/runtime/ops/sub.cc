// sub (docs/ops.md code 19): y = a - b with broadcasting; f32 or i64 (wrapping).
#include "ops/arith.h"
#include "ops/ops.h"

namespace deployrt {

namespace {

Result<std::unique_ptr<OpKernel>> create_sub(const NodeInfo& node) { return make_arith_kernel(node, ArithOp::kSub); }

}  // namespace

const OpDef kSubOp = {OpKind::kSub, "sub", 2, 2, 1, infer_arith, create_sub};

}  // namespace deployrt
