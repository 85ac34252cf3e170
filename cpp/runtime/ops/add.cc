// add (docs/ops.md code 4): y = clamp(a + alpha * b, act_min, act_max) with broadcasting.
// i64 inputs take an integral alpha and no epilogue attributes (wrapping arithmetic).
#include <cmath>
#include <memory>
#include <string>

#include "kernels/reference/binary_ref.h"
#include "ops/activation_attrs.h"
#include "ops/arith.h"
#include "ops/broadcast.h"
#include "ops/ops.h"
#include "ops/parallel.h"
#include "ops/validate.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

Status read_alpha(const NodeInfo& node, double* alpha) {
  Status st = node.get_float("alpha", alpha);
  if (!st.ok()) return st;
  if (!std::isfinite(*alpha)) return node.error("attribute 'alpha' must be finite, got " + std::to_string(*alpha));
  return Status::Ok();
}

// i64 add: alpha must be a whole number in i64 range (torch.add(int, int, alpha=int)),
// and the float epilogue makes no sense on integers.
Status read_i64_alpha(const NodeInfo& node, double alpha, int64_t* out) {
  if (alpha != std::trunc(alpha) || alpha < -9223372036854775808.0 || alpha >= 9223372036854775808.0) {
    return node.error("attribute 'alpha' must be a whole number for i64 inputs, got " + std::to_string(alpha));
  }
  if (node.find("act_min") != nullptr || node.find("act_max") != nullptr) {
    return node.error("attributes 'act_min'/'act_max' are only allowed on f32 inputs, the inputs are i64");
  }
  *out = static_cast<int64_t>(alpha);
  return Status::Ok();
}

Status infer_add(NodeInfo& node) {
  Status st = infer_arith(node);
  double alpha = 0.0;
  if (st.ok()) st = read_alpha(node, &alpha);
  if (st.ok() && node.inputs[0].dtype == DType::kI64) {
    int64_t alpha_i64 = 0;
    return read_i64_alpha(node, alpha, &alpha_i64);
  }
  Activation act;
  if (st.ok()) st = read_activation_attrs(node, &act);
  return st;
}

class AddKernel final : public OpKernel {
 public:
  AddKernel(const BroadcastPlan& plan, float alpha, Activation act) : plan_(plan), alpha_(alpha), act_(act) {}

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    const float* a = inputs[0].as<const float>();
    const float* b = inputs[1].as<const float>();
    float* y = outputs[0].as<float>();
    pool.parallel_for(
        plan_.rows(), [&](int64_t begin, int64_t end) { f32_add_ref(plan_, a, b, alpha_, act_, y, begin, end); },
        grain_for(plan_.row_length()));
  }

 private:
  BroadcastPlan plan_;
  float alpha_;
  Activation act_;
};

Result<std::unique_ptr<OpKernel>> create_add(const NodeInfo& node) {
  double alpha = 0.0;
  Status st = read_alpha(node, &alpha);
  if (st.ok() && node.inputs[0].dtype == DType::kI64) {
    int64_t alpha_i64 = 0;
    st = read_i64_alpha(node, alpha, &alpha_i64);
    if (!st.ok()) return st;
    return make_arith_kernel(node, ArithOp::kAdd, alpha_i64);
  }
  Activation act;
  if (st.ok()) st = read_activation_attrs(node, &act);
  if (!st.ok()) return st;
  const BroadcastPlan plan = make_broadcast_plan(node.inputs[0], node.inputs[1], node.outputs[0]);
  return std::unique_ptr<OpKernel>(new AddKernel(plan, static_cast<float>(alpha), act));
}

}  // namespace

const OpDef kAddOp = {OpKind::kAdd, "add", 2, 2, 1, infer_add, create_add};

}  // namespace deployrt
