// linear (docs/ops.md code 9): x[..., IN], weight[OUT, IN], [bias[OUT]] -> y[..., OUT].
#include <memory>
#include <string>
#include <vector>

#include "kernels/reference/linear_ref.h"
#include "ops/ops.h"
#include "ops/parallel.h"
#include "ops/validate.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

enum Input { kX = 0, kWeight = 1, kBias = 2 };

Status infer_linear(NodeInfo& node) {
  Status st = check_input_count(node, 2, 3);
  if (st.ok()) st = check_f32_input_min_rank(node, kX, "x", 1);
  if (st.ok()) st = check_f32_input(node, kWeight, "weight", 2);
  if (!st.ok()) return st;
  const TensorDesc& x = node.inputs[kX];
  const TensorDesc& w = node.inputs[kWeight];
  if (w.dims[1] != x.dims[x.rank - 1]) {
    return node.error("weight " + w.to_string() + " must have " + std::to_string(x.dims[x.rank - 1]) +
                      " input features to match x " + x.to_string());
  }
  st = check_optional_vector(node, kBias, "bias", w.dims[0]);
  if (!st.ok()) return st;
  std::vector<int64_t> dims(x.dims, x.dims + x.rank);
  dims.back() = w.dims[0];
  TensorDesc y;
  st = make_f32_desc(node, dims, &y);
  if (!st.ok()) return st;
  node.outputs.assign(1, y);
  return Status::Ok();
}

class LinearKernel final : public OpKernel {
 public:
  LinearKernel(int64_t in_features, int64_t out_features, bool has_bias_slot)
      : in_features_(in_features), out_features_(out_features), has_bias_slot_(has_bias_slot) {}

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    const float* x = inputs[kX].as<const float>();
    const float* w = inputs[kWeight].as<const float>();
    const float* bias = has_bias_slot_ ? inputs[kBias].as<const float>() : nullptr;
    float* y = outputs[0].as<float>();
    // One work item = one output element (a dot product of in_features).
    pool.parallel_for(
        outputs[0].desc->numel(),
        [&](int64_t begin, int64_t end) { f32_linear_ref(x, w, bias, y, in_features_, out_features_, begin, end); },
        grain_for(in_features_));
  }

 private:
  int64_t in_features_, out_features_;
  bool has_bias_slot_;
};

Result<std::unique_ptr<OpKernel>> create_linear(const NodeInfo& node) {
  const TensorDesc& w = node.inputs[kWeight];
  return std::unique_ptr<OpKernel>(new LinearKernel(w.dims[1], w.dims[0], node.inputs.size() > kBias));
}

}  // namespace

const OpDef kLinearOp = {OpKind::kLinear, "linear", 2, 3, 1, infer_linear, create_linear};

}  // namespace deployrt
