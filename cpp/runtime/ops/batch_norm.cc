// batch_norm (docs/ops.md code 2), inference mode: x[N,C,...], running_mean[C],
// running_var[C], [weight[C]], [bias[C]], attribute eps > 0.
// create() folds the statistics into per-channel scale and shift when they are constants
// (the usual case); otherwise run() folds them into its workspace first.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "kernels/reference/channel_affine_ref.h"
#include "ops/ops.h"
#include "ops/parallel.h"
#include "ops/validate.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

enum Input { kX = 0, kMean = 1, kVar = 2, kWeight = 3, kBias = 4 };

Status read_eps(const NodeInfo& node, double* eps) {
  Status st = node.get_float("eps", eps);
  if (!st.ok()) return st;
  if (!(*eps > 0.0) || !std::isfinite(*eps)) {
    return node.error("attribute 'eps' must be a finite value > 0, got " + std::to_string(*eps));
  }
  return Status::Ok();
}

Status infer_batch_norm(NodeInfo& node) {
  Status st = check_input_count(node, 3, 5);
  if (st.ok()) st = check_f32_input_min_rank(node, kX, "x", 2);
  if (!st.ok()) return st;
  const int64_t channels = node.inputs[kX].dims[1];
  const char* const roles[] = {"x", "running_mean", "running_var", "weight", "bias"};
  for (size_t i = kMean; i < node.inputs.size(); ++i) {
    // mean and var are required (check_input_count made them present); weight/bias optional.
    st = check_optional_vector(node, i, roles[i], channels);
    if (!st.ok()) return st;
  }
  double eps = 0.0;
  st = read_eps(node, &eps);
  if (!st.ok()) return st;
  node.outputs.assign(1, node.inputs[kX]);
  return Status::Ok();
}

class BatchNormKernel final : public OpKernel {
 public:
  BatchNormKernel(int64_t channels, int64_t inner, float eps, std::vector<float> scale, std::vector<float> shift)
      : channels_(channels),
        inner_(inner),
        eps_(eps),
        scale_(std::move(scale)),
        shift_(std::move(shift)) {}

  size_t workspace_bytes() const override {
    return folded() ? 0 : 2 * static_cast<size_t>(channels_) * sizeof(float);
  }

  void run(const TensorRef* inputs, TensorRef* outputs, void* workspace, ThreadPool& pool) const override {
    const float* scale = scale_.data();
    const float* shift = shift_.data();
    if (!folded()) {
      float* ws = static_cast<float*>(workspace);
      f32_batch_norm_fold_ref(inputs[kMean].as<const float>(), inputs[kVar].as<const float>(),
                              inputs[kWeight].as<const float>(), inputs[kBias].as<const float>(), eps_, channels_,
                              ws, ws + channels_);
      scale = ws;
      shift = ws + channels_;
    }
    const float* x = inputs[kX].as<const float>();
    float* y = outputs[0].as<float>();
    const int64_t rows = inputs[kX].desc->dims[0] * channels_;
    pool.parallel_for(
        rows,
        [&](int64_t begin, int64_t end) {
          f32_channel_affine_ref(x, scale, shift, y, channels_, inner_, begin, end);
        },
        grain_for(inner_));
  }

 private:
  bool folded() const { return !scale_.empty() || channels_ == 0; }

  int64_t channels_;
  int64_t inner_;  // product of the dims after C
  float eps_;
  std::vector<float> scale_, shift_;  // empty when the statistics are not constants
};

Result<std::unique_ptr<OpKernel>> create_batch_norm(const NodeInfo& node) {
  double eps = 0.0;
  Status st = read_eps(node, &eps);
  if (!st.ok()) return st;
  const TensorDesc& x = node.inputs[kX];
  const int64_t channels = x.dims[1];
  int64_t inner = 1;
  for (int i = 2; i < x.rank; ++i) inner *= x.dims[i];

  // Fold now when every present statistic is a constant; weights stay untouched (read-only mmap).
  bool all_constant = true;
  for (size_t i = kMean; i < node.inputs.size(); ++i) {
    if (input_present(node, i) && constant_f32(node, i) == nullptr) all_constant = false;
  }
  std::vector<float> scale, shift;
  if (all_constant) {
    scale.resize(static_cast<size_t>(channels));
    shift.resize(static_cast<size_t>(channels));
    const float* weight = input_present(node, kWeight) ? constant_f32(node, kWeight) : nullptr;
    const float* bias = input_present(node, kBias) ? constant_f32(node, kBias) : nullptr;
    f32_batch_norm_fold_ref(constant_f32(node, kMean), constant_f32(node, kVar), weight, bias,
                            static_cast<float>(eps), channels, scale.data(), shift.data());
  }
  return std::unique_ptr<OpKernel>(new BatchNormKernel(channels, inner, static_cast<float>(eps), std::move(scale),
                                                       std::move(shift)));
}

}  // namespace

const OpDef kBatchNormOp = {OpKind::kBatchNorm, "batch_norm", 3, 5, 1, infer_batch_norm, create_batch_norm};

}  // namespace deployrt
