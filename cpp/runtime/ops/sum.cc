// sum (docs/ops.md code 24): torch.sum(x, dims, keepdim), same attributes as mean; f32
// (accumulated in f64) or i64 (wrapping).
#include <memory>

#include "kernels/reference/mean_ref.h"
#include "ops/ops.h"
#include "ops/parallel.h"
#include "ops/reduce.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

Status infer_sum(NodeInfo& node) { return infer_reduce(node, {DType::kF32, DType::kI64}); }

class SumKernel final : public OpKernel {
 public:
  SumKernel(const MeanPlan& plan, DType dtype) : plan_(plan), dtype_(dtype) {}

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    pool.parallel_for(
        outputs[0].desc->numel(),
        [&](int64_t begin, int64_t end) {
          if (dtype_ == DType::kI64) {
            i64_sum_ref(plan_, inputs[0].as<const int64_t>(), outputs[0].as<int64_t>(), begin, end);
          } else {
            f32_sum_ref(plan_, inputs[0].as<const float>(), outputs[0].as<float>(), begin, end);
          }
        },
        grain_for(plan_.reduced_count));
  }

 private:
  MeanPlan plan_;
  DType dtype_;
};

Result<std::unique_ptr<OpKernel>> create_sum(const NodeInfo& node) {
  Result<MeanPlan> plan = make_reduce_plan(node);
  if (!plan.ok()) return plan.status();
  return std::unique_ptr<OpKernel>(new SumKernel(plan.value(), node.inputs[0].dtype));
}

}  // namespace

const OpDef kSumOp = {OpKind::kSum, "sum", 1, 1, 1, infer_sum, create_sum};

}  // namespace deployrt
