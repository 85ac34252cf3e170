#include "ops/arith.h"

#include "ops/broadcast.h"
#include "ops/parallel.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

class ArithKernel final : public OpKernel {
 public:
  ArithKernel(ArithOp op, DType dtype, const BroadcastPlan& plan, int64_t alpha)
      : op_(op), dtype_(dtype), plan_(plan), alpha_(alpha) {}

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    pool.parallel_for(
        plan_.rows(),
        [&](int64_t begin, int64_t end) {
          if (dtype_ == DType::kI64) {
            i64_arith_ref(op_, plan_, inputs[0].as<const int64_t>(), inputs[1].as<const int64_t>(), alpha_,
                          outputs[0].as<int64_t>(), begin, end);
          } else {
            f32_arith_ref(op_, plan_, inputs[0].as<const float>(), inputs[1].as<const float>(),
                          outputs[0].as<float>(), begin, end);
          }
        },
        grain_for(plan_.row_length()));
  }

 private:
  ArithOp op_;
  DType dtype_;
  BroadcastPlan plan_;
  int64_t alpha_;
};

}  // namespace

Status infer_arith(NodeInfo& node) { return infer_broadcast(node, {DType::kF32, DType::kI64}, DType::kInvalid); }

std::unique_ptr<OpKernel> make_arith_kernel(const NodeInfo& node, ArithOp op, int64_t alpha) {
  return std::unique_ptr<OpKernel>(new ArithKernel(
      op, node.inputs[0].dtype, make_broadcast_plan(node.inputs[0], node.inputs[1], node.outputs[0]), alpha));
}

}  // namespace deployrt
