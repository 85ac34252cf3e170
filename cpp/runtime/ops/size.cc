// size (docs/ops.md code 26): i64[] holding dim `dim` of x (any dtype; negative dim
// counts from the end). Frontends fold it away for static shapes; it stays for dims a
// dynamic-shape archive only knows at run time, so the kernel reads the dim from the
// descriptor it is given at run time, never from a value fixed at load.
#include <memory>
#include <string>

#include "ops/control_flow.h"
#include "ops/ops.h"
#include "ops/validate.h"

namespace deployrt {

namespace {

Status read_dim(const NodeInfo& node, int rank, int* dim) {
  int64_t v = 0;
  Status st = node.get_int("dim", &v);
  if (!st.ok()) return st;
  if (v < -rank || v >= rank) {
    return node.error("attribute 'dim' = " + std::to_string(v) + " is out of range for rank " + std::to_string(rank) +
                      " (expected " + std::to_string(-rank) + ".." + std::to_string(rank - 1) + ")");
  }
  *dim = static_cast<int>(v < 0 ? v + rank : v);
  return Status::Ok();
}

Status infer_size(NodeInfo& node) {
  Status st = check_input_count(node, 1, 1);
  if (st.ok()) st = check_operand(node, 0, "x");
  int dim = 0;
  if (st.ok()) st = read_dim(node, node.inputs[0].rank, &dim);
  if (!st.ok()) return st;
  TensorDesc y;
  y.dtype = DType::kI64;
  y.rank = 0;
  node.outputs.assign(1, y);
  return Status::Ok();
}

class SizeKernel final : public OpKernel {
 public:
  explicit SizeKernel(int dim) : dim_(dim) {}
  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& /*pool*/) const override {
    *outputs[0].as<int64_t>() = inputs[0].desc->dims[dim_];
  }

 private:
  int dim_;
};

Result<std::unique_ptr<OpKernel>> create_size(const NodeInfo& node) {
  int dim = 0;
  Status st = read_dim(node, node.inputs[0].rank, &dim);
  if (!st.ok()) return st;
  return std::unique_ptr<OpKernel>(new SizeKernel(dim));
}

}  // namespace

const OpDef kSizeOp = {OpKind::kSize, "size", 1, 1, 1, infer_size, create_size};

}  // namespace deployrt
