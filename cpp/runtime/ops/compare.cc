// compare (docs/ops.md code 21): y = a <mode> b as bool, with broadcasting; a and b both
// f32 or both i64. mode: 0 eq, 1 ne, 2 lt, 3 le, 4 gt, 5 ge.
#include <memory>
#include <string>

#include "kernels/reference/scalar_ops_ref.h"
#include "ops/broadcast.h"
#include "ops/ops.h"
#include "ops/parallel.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

Status read_mode(const NodeInfo& node, CompareMode* mode) {
  int64_t v = 0;
  Status st = node.get_int("mode", &v);
  if (!st.ok()) return st;
  if (v < 0 || v > 5) {
    return node.error("attribute 'mode' must be 0..5 (eq, ne, lt, le, gt, ge), got " + std::to_string(v));
  }
  *mode = static_cast<CompareMode>(v);
  return Status::Ok();
}

Status infer_compare(NodeInfo& node) {
  Status st = infer_broadcast(node, {DType::kF32, DType::kI64}, DType::kBool);
  CompareMode mode;
  if (st.ok()) st = read_mode(node, &mode);
  return st;
}

class CompareKernel final : public OpKernel {
 public:
  CompareKernel(CompareMode mode, DType dtype, const BroadcastPlan& plan) : mode_(mode), dtype_(dtype), plan_(plan) {}

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    pool.parallel_for(
        plan_.rows(),
        [&](int64_t begin, int64_t end) {
          if (dtype_ == DType::kI64) {
            i64_compare_ref(mode_, plan_, inputs[0].as<const int64_t>(), inputs[1].as<const int64_t>(),
                            outputs[0].as<uint8_t>(), begin, end);
          } else {
            f32_compare_ref(mode_, plan_, inputs[0].as<const float>(), inputs[1].as<const float>(),
                            outputs[0].as<uint8_t>(), begin, end);
          }
        },
        grain_for(plan_.row_length()));
  }

 private:
  CompareMode mode_;
  DType dtype_;
  BroadcastPlan plan_;
};

Result<std::unique_ptr<OpKernel>> create_compare(const NodeInfo& node) {
  CompareMode mode;
  Status st = read_mode(node, &mode);
  if (!st.ok()) return st;
  return std::unique_ptr<OpKernel>(new CompareKernel(
      mode, node.inputs[0].dtype, make_broadcast_plan(node.inputs[0], node.inputs[1], node.outputs[0])));
}

}  // namespace

const OpDef kCompareOp = {OpKind::kCompare, "compare", 2, 2, 1, infer_compare, create_compare};

}  // namespace deployrt
