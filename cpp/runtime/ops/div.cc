// div (docs/ops.md code 20): y = a / b with broadcasting. f32 is IEEE division; i64
// truncates toward zero like C (frontends cast to f32 first for Python's true division),
// with x / 0 = 0 and INT64_MIN / -1 = INT64_MIN instead of a trap.
#include "ops/arith.h"
#include "ops/ops.h"

namespace deployrt {

const OpDef kDivOp = {OpKind::kDiv, "div", 2, 2, 1, infer_arith, create_arith<ArithOp::kDiv>};

}  // namespace deployrt
