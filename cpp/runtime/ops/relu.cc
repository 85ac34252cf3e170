// relu (docs/ops.md code 3): y = max(x, 0), NaN kept.
#include <memory>

#include "kernels/reference/activation_ref.h"
#include "ops/ops.h"
#include "ops/parallel.h"
#include "ops/validate.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

Status infer_relu(NodeInfo& node) {
  Status st = check_input_count(node, 1, 1);
  if (st.ok()) st = check_f32_input(node, 0, "x", -1);
  if (!st.ok()) return st;
  node.outputs.assign(1, node.inputs[0]);
  return Status::Ok();
}

class ReluKernel final : public OpKernel {
 public:
  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    const float* x = inputs[0].as<const float>();
    float* y = outputs[0].as<float>();
    pool.parallel_for(
        inputs[0].desc->numel(), [&](int64_t begin, int64_t end) { f32_relu_ref(x, y, begin, end); },
        kMinChunkWork);
  }
};

Result<std::unique_ptr<OpKernel>> create_relu(const NodeInfo& /*node*/) {
  return std::unique_ptr<OpKernel>(new ReluKernel());
}

}  // namespace

const OpDef kReluOp = {OpKind::kRelu, "relu", 1, 1, 1, infer_relu, create_relu};

}  // namespace deployrt
