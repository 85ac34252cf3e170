// logical (docs/ops.md code 23): y = a <mode> b on bools, with broadcasting.
// mode: 0 and, 1 or, 2 xor.
#include <memory>
#include <string>

#include "kernels/reference/scalar_ops_ref.h"
#include "ops/broadcast.h"
#include "ops/ops.h"
#include "ops/parallel.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

Status read_mode(const NodeInfo& node, LogicalMode* mode) {
  int64_t v = 0;
  Status st = node.get_int("mode", &v);
  if (!st.ok()) return st;
  if (v < 0 || v > 2) return node.error("attribute 'mode' must be 0..2 (and, or, xor), got " + std::to_string(v));
  *mode = static_cast<LogicalMode>(v);
  return Status::Ok();
}

Status infer_logical(NodeInfo& node) {
  Status st = infer_broadcast(node, {DType::kBool}, DType::kBool);
  LogicalMode mode;
  if (st.ok()) st = read_mode(node, &mode);
  return st;
}

class LogicalKernel final : public OpKernel {
 public:
  LogicalKernel(LogicalMode mode, const BroadcastPlan& plan) : mode_(mode), plan_(plan) {}

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    pool.parallel_for(
        plan_.rows(),
        [&](int64_t begin, int64_t end) {
          bool_logical_ref(mode_, plan_, inputs[0].as<const uint8_t>(), inputs[1].as<const uint8_t>(),
                           outputs[0].as<uint8_t>(), begin, end);
        },
        grain_for(plan_.row_length()));
  }

 private:
  LogicalMode mode_;
  BroadcastPlan plan_;
};

Result<std::unique_ptr<OpKernel>> create_logical(const NodeInfo& node) {
  LogicalMode mode;
  Status st = read_mode(node, &mode);
  if (!st.ok()) return st;
  return std::unique_ptr<OpKernel>(
      new LogicalKernel(mode, make_broadcast_plan(node.inputs[0], node.inputs[1], node.outputs[0])));
}

}  // namespace

const OpDef kLogicalOp = {OpKind::kLogical, "logical", 2, 2, 1, infer_logical, create_logical};

}  // namespace deployrt
