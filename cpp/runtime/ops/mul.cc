// mul (docs/ops.md code 12): y = a * b with broadcasting; f32, or i64 (wrapping).
#include <memory>

#include "kernels/reference/binary_ref.h"
#include "ops/arith.h"
#include "ops/broadcast.h"
#include "ops/ops.h"
#include "ops/parallel.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

class MulKernel final : public OpKernel {
 public:
  explicit MulKernel(const BroadcastPlan& plan) : plan_(plan) {}

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    const float* a = inputs[0].as<const float>();
    const float* b = inputs[1].as<const float>();
    float* y = outputs[0].as<float>();
    pool.parallel_for(
        plan_.rows(), [&](int64_t begin, int64_t end) { f32_mul_ref(plan_, a, b, y, begin, end); },
        grain_for(plan_.row_length()));
  }

 private:
  BroadcastPlan plan_;
};

Result<std::unique_ptr<OpKernel>> create_mul(const NodeInfo& node) {
  if (node.inputs[0].dtype == DType::kI64) return make_arith_kernel(node, ArithOp::kMul);
  return std::unique_ptr<OpKernel>(new MulKernel(make_broadcast_plan(node.inputs[0], node.inputs[1], node.outputs[0])));
}

}  // namespace

const OpDef kMulOp = {OpKind::kMul, "mul", 2, 2, 1, infer_arith, create_mul};

}  // namespace deployrt
