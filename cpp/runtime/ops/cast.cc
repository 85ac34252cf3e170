// cast (docs/ops.md code 25): converts between f32, i64 and bool; attribute `to` is the
// target dtype code (1 f32, 8 i64, 9 bool). Conversion rules: kernels/reference/scalar_ops_ref.h.
#include <memory>
#include <string>
#include <vector>

#include "kernels/reference/scalar_ops_ref.h"
#include "ops/ops.h"
#include "ops/validate.h"

namespace deployrt {

namespace {

Status read_to(const NodeInfo& node, DType* to) {
  int64_t v = 0;
  Status st = node.get_int("to", &v);
  if (!st.ok()) return st;
  if (v != static_cast<int64_t>(DType::kF32) && v != static_cast<int64_t>(DType::kI64) &&
      v != static_cast<int64_t>(DType::kBool)) {
    return node.error("attribute 'to' must be a dtype code 1 (f32), 8 (i64) or 9 (bool), got " + std::to_string(v));
  }
  *to = static_cast<DType>(v);
  return Status::Ok();
}

Status infer_cast(NodeInfo& node) {
  Status st = check_input_count(node, 1, 1);
  if (st.ok()) st = check_input(node, 0, "x", {DType::kF32, DType::kI64, DType::kBool}, -1);
  DType to = DType::kInvalid;
  if (st.ok()) st = read_to(node, &to);
  if (!st.ok()) return st;
  TensorDesc y = node.inputs[0];
  y.dtype = to;
  // Widening to i64 multiplies the bytes by up to 8: recheck numel x size.
  st = make_desc(node, to, std::vector<int64_t>(y.dims, y.dims + y.rank), &y);
  if (!st.ok()) return st;
  node.outputs.assign(1, y);
  return Status::Ok();
}

class CastKernel final : public OpKernel {
 public:
  CastKernel(DType from, DType to) : from_(from), to_(to) {}
  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& /*pool*/) const override {
    cast_ref(from_, to_, inputs[0].data, outputs[0].data, outputs[0].desc->numel());
  }

 private:
  DType from_, to_;
};

Result<std::unique_ptr<OpKernel>> create_cast(const NodeInfo& node) {
  return std::unique_ptr<OpKernel>(new CastKernel(node.inputs[0].dtype, node.outputs[0].dtype));
}

}  // namespace

const OpDef kCastOp = {OpKind::kCast, "cast", 1, 1, 1, infer_cast, create_cast};

}  // namespace deployrt
