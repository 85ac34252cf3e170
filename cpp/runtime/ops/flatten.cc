// flatten (docs/ops.md code 8): merges dims [start_dim, end_dim] (normalized,
// start_dim <= end_dim < rank) into one. The data is copied unchanged.
#include <memory>
#include <string>
#include <vector>

#include "ops/copy_kernel.h"
#include "ops/ops.h"
#include "ops/validate.h"

namespace deployrt {

namespace {

Status infer_flatten(NodeInfo& node) {
  Status st = check_input_count(node, 1, 1);
  if (st.ok()) st = check_f32_input(node, 0, "x", -1);
  int64_t start = 0, end = 0;
  if (st.ok()) st = node.get_int("start_dim", &start);
  if (st.ok()) st = node.get_int("end_dim", &end);
  if (!st.ok()) return st;
  const TensorDesc& x = node.inputs[0];
  if (start < 0 || start > end || end >= x.rank) {
    return node.error("start_dim " + std::to_string(start) + " and end_dim " + std::to_string(end) +
                      " must satisfy 0 <= start_dim <= end_dim < rank " + std::to_string(x.rank) + " of " +
                      x.to_string());
  }
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < start; ++i) dims.push_back(x.dims[i]);
  int64_t merged = 1;
  for (int64_t i = start; i <= end; ++i) merged *= x.dims[i];  // bounded by numel, checked by check_f32_input
  dims.push_back(merged);
  for (int64_t i = end + 1; i < x.rank; ++i) dims.push_back(x.dims[i]);
  TensorDesc y;
  st = make_f32_desc(node, dims, &y);
  if (!st.ok()) return st;
  node.outputs.assign(1, y);
  return Status::Ok();
}

}  // namespace

const OpDef kFlattenOp = {OpKind::kFlatten, "flatten", 1, 1, 1, infer_flatten, create_contiguous_copy};

}  // namespace deployrt
