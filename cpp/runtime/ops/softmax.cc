// softmax (docs/ops.md code 16): along `axis` (normalized), numerically stable.
#include <memory>

#include "kernels/reference/softmax_ref.h"
#include "ops/ops.h"
#include "ops/parallel.h"
#include "ops/validate.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

Status infer_softmax(NodeInfo& node) {
  Status st = check_input_count(node, 1, 1);
  if (st.ok()) st = check_f32_input_min_rank(node, 0, "x", 1);
  int axis = 0;
  if (st.ok()) st = get_axis(node, "axis", node.inputs[0].rank, &axis);
  if (!st.ok()) return st;
  node.outputs.assign(1, node.inputs[0]);
  return Status::Ok();
}

class SoftmaxKernel final : public OpKernel {
 public:
  SoftmaxKernel(int64_t outer, int64_t axis_size, int64_t inner) : outer_(outer), axis_size_(axis_size), inner_(inner) {}

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    const float* x = inputs[0].as<const float>();
    float* y = outputs[0].as<float>();
    pool.parallel_for(
        outer_, [&](int64_t begin, int64_t end) { f32_softmax_ref(x, y, axis_size_, inner_, begin, end); },
        grain_for(work_product({axis_size_, inner_, 16})));
  }

 private:
  int64_t outer_, axis_size_, inner_;
};

Result<std::unique_ptr<OpKernel>> create_softmax(const NodeInfo& node) {
  const TensorDesc& x = node.inputs[0];
  int axis = 0;
  Status st = get_axis(node, "axis", x.rank, &axis);
  if (!st.ok()) return st;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dims[d];
  for (int d = axis + 1; d < x.rank; ++d) inner *= x.dims[d];
  return std::unique_ptr<OpKernel>(new SoftmaxKernel(outer, x.dims[axis], inner));
}

}  // namespace

const OpDef kSoftmaxOp = {OpKind::kSoftmax, "softmax", 1, 1, 1, infer_softmax, create_softmax};

}  // namespace deployrt
