// reshape (docs/ops.md code 13): `shape` INTS, fully resolved (each >= 0), product = numel.
// The data is copied unchanged.
#include <memory>
#include <string>
#include <vector>

#include "kernels/reference/copy_ref.h"
#include "ops/ops.h"
#include "ops/parallel.h"
#include "ops/validate.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

Status infer_reshape(NodeInfo& node) {
  Status st = check_input_count(node, 1, 1);
  if (st.ok()) st = check_f32_input(node, 0, "x", -1);
  std::vector<int64_t> shape;
  if (st.ok()) st = get_ints_at_least(node, "shape", SIZE_MAX, 0, &shape);
  if (!st.ok()) return st;
  const TensorDesc& x = node.inputs[0];
  TensorDesc y;
  st = make_f32_desc(node, shape, &y);  // refuses rank > kMaxRank and numel overflow
  if (!st.ok()) return st;
  if (y.numel() != x.numel()) {
    return node.error("shape " + ints_to_string(shape) + " has " + std::to_string(y.numel()) +
                      " elements, input " + x.to_string() + " has " + std::to_string(x.numel()));
  }
  node.outputs.assign(1, y);
  return Status::Ok();
}

class ReshapeKernel final : public OpKernel {
 public:
  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    const float* x = inputs[0].as<const float>();
    float* y = outputs[0].as<float>();
    pool.parallel_for(
        inputs[0].desc->numel(), [&](int64_t begin, int64_t end) { f32_copy_ref(x, y, begin, end); },
        kMinChunkWork * 4);
  }
};

Result<std::unique_ptr<OpKernel>> create_reshape(const NodeInfo& /*node*/) {
  return std::unique_ptr<OpKernel>(new ReshapeKernel());
}

}  // namespace

const OpDef kReshapeOp = {OpKind::kReshape, "reshape", 1, 1, 1, infer_reshape, create_reshape};

}  // namespace deployrt
