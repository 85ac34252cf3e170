// hardtanh (docs/ops.md code 10): y = clamp(x, min_val, max_val); also relu6 and clamp.
#include <cmath>
#include <memory>
#include <string>

#include "kernels/reference/activation_ref.h"
#include "ops/ops.h"
#include "ops/parallel.h"
#include "ops/validate.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

Status read_bounds(const NodeInfo& node, double* min_val, double* max_val) {
  Status st = node.get_float("min_val", min_val);
  if (st.ok()) st = node.get_float("max_val", max_val);
  if (!st.ok()) return st;
  // NaN bounds fail this comparison too; infinite bounds are fine (one-sided clamp).
  if (!(*min_val <= *max_val)) {
    return node.error("attribute 'min_val' (" + std::to_string(*min_val) + ") must be <= 'max_val' (" +
                      std::to_string(*max_val) + ")");
  }
  return Status::Ok();
}

Status infer_hardtanh(NodeInfo& node) {
  Status st = check_input_count(node, 1, 1);
  if (st.ok()) st = check_f32_input(node, 0, "x", -1);
  double min_val = 0.0, max_val = 0.0;
  if (st.ok()) st = read_bounds(node, &min_val, &max_val);
  if (!st.ok()) return st;
  node.outputs.assign(1, node.inputs[0]);
  return Status::Ok();
}

class HardtanhKernel final : public OpKernel {
 public:
  HardtanhKernel(float min_val, float max_val) : min_val_(min_val), max_val_(max_val) {}

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    const float* x = inputs[0].as<const float>();
    float* y = outputs[0].as<float>();
    pool.parallel_for(
        inputs[0].desc->numel(),
        [&](int64_t begin, int64_t end) { f32_hardtanh_ref(x, y, min_val_, max_val_, begin, end); },
        kMinChunkWork);
  }

 private:
  float min_val_, max_val_;
};

Result<std::unique_ptr<OpKernel>> create_hardtanh(const NodeInfo& node) {
  double min_val = 0.0, max_val = 0.0;
  Status st = read_bounds(node, &min_val, &max_val);
  if (!st.ok()) return st;
  return std::unique_ptr<OpKernel>(new HardtanhKernel(static_cast<float>(min_val), static_cast<float>(max_val)));
}

}  // namespace

const OpDef kHardtanhOp = {OpKind::kHardtanh, "hardtanh", 1, 1, 1, infer_hardtanh, create_hardtanh};

}  // namespace deployrt
