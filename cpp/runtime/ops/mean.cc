// mean (docs/ops.md code 15): torch.mean(x, dims, keepdim); `dims` normalized and unique.
// An empty `dims` reduces every dim, as torch.mean(x, dim=[]) does.
#include <memory>
#include <string>
#include <vector>

#include "kernels/reference/mean_ref.h"
#include "ops/ops.h"
#include "ops/parallel.h"
#include "ops/reduce.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

Status infer_mean(NodeInfo& node) { return infer_reduce(node, {DType::kF32}); }

class MeanKernel final : public OpKernel {
 public:
  explicit MeanKernel(const MeanPlan& plan) : plan_(plan) {}

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    const float* x = inputs[0].as<const float>();
    float* y = outputs[0].as<float>();
    pool.parallel_for(
        outputs[0].desc->numel(), [&](int64_t begin, int64_t end) { f32_mean_ref(plan_, x, y, begin, end); },
        grain_for(plan_.reduced_count));
  }

 private:
  MeanPlan plan_;
};

Result<std::unique_ptr<OpKernel>> create_mean(const NodeInfo& node) {
  Result<MeanPlan> plan = make_reduce_plan(node);
  if (!plan.ok()) return plan.status();
  return std::unique_ptr<OpKernel>(new MeanKernel(plan.value()));
}

}  // namespace

const OpDef kMeanOp = {OpKind::kMean, "mean", 1, 1, 1, infer_mean, create_mean};

}  // namespace deployrt
