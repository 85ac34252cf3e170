// sub (docs/ops.md code 19): y = a - b with broadcasting; f32 or i64 (wrapping).
#include "ops/arith.h"
#include "ops/ops.h"

namespace deployrt {

const OpDef kSubOp = {OpKind::kSub, "sub", 2, 2, 1, infer_arith, create_arith<ArithOp::kSub>};

}  // namespace deployrt
