// logical_not (docs/ops.md code 22): y = !x on bools, same shape.
#include <memory>

#include "kernels/reference/scalar_ops_ref.h"
#include "ops/ops.h"
#include "ops/validate.h"

namespace deployrt {

namespace {

Status infer_logical_not(NodeInfo& node) {
  Status st = check_input_count(node, 1, 1);
  if (st.ok()) st = check_input(node, 0, "x", {DType::kBool}, -1);
  if (!st.ok()) return st;
  node.outputs.assign(1, node.inputs[0]);
  return Status::Ok();
}

class LogicalNotKernel final : public OpKernel {
 public:
  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& /*pool*/) const override {
    bool_not_ref(inputs[0].as<const uint8_t>(), outputs[0].as<uint8_t>(), outputs[0].desc->numel());
  }
};

Result<std::unique_ptr<OpKernel>> create_logical_not(const NodeInfo& /*node*/) {
  return std::unique_ptr<OpKernel>(new LogicalNotKernel());
}

}  // namespace

const OpDef kLogicalNotOp = {OpKind::kLogicalNot, "logical_not", 1, 1, 1, infer_logical_not, create_logical_not};

}  // namespace deployrt
