// reshape (docs/ops.md code 13): `shape` INTS, each >= 0 or one -1 (inferred), product = numel.
// The data is copied unchanged.
#include <memory>
#include <string>
#include <vector>

#include "core/checked_math.h"
#include "ops/copy_kernel.h"
#include "ops/ops.h"
#include "ops/validate.h"

namespace deployrt {

namespace {

Status infer_reshape(NodeInfo& node) {
  Status st = check_input_count(node, 1, 1);
  if (st.ok()) st = check_f32_input(node, 0, "x", -1);
  std::vector<int64_t> shape;
  if (st.ok()) st = get_ints_at_least(node, "shape", SIZE_MAX, -1, &shape);
  if (!st.ok()) return st;
  const TensorDesc& x = node.inputs[0];
  // At most one -1 (dynamic shapes, format 1.2): the size that keeps numel.
  int inferred = -1;
  int64_t known = 1;
  for (size_t k = 0; k < shape.size(); ++k) {
    if (shape[k] >= 0) {
      if (!checked_mul(known, shape[k], &known)) return node.error("shape " + ints_to_string(shape) + " overflows");
      continue;
    }
    if (inferred >= 0) return node.error("shape " + ints_to_string(shape) + " has more than one -1");
    inferred = static_cast<int>(k);
  }
  if (inferred >= 0) {
    if (known == 0 || x.numel() % known != 0) {
      return node.error("shape " + ints_to_string(shape) + " cannot take input " + x.to_string());
    }
    shape[inferred] = x.numel() / known;
  }
  TensorDesc y;
  st = make_f32_desc(node, shape, &y);  // refuses rank > kMaxRank and numel overflow
  if (!st.ok()) return st;
  if (y.numel() != x.numel()) {
    return node.error("shape " + ints_to_string(shape) + " has " + std::to_string(y.numel()) +
                      " elements, input " + x.to_string() + " has " + std::to_string(x.numel()));
  }
  node.outputs.assign(1, y);
  return Status::Ok();
}

}  // namespace

const OpDef kReshapeOp = {OpKind::kReshape, "reshape", 1, 1, 1, infer_reshape, create_contiguous_copy};

}  // namespace deployrt
