// cat (docs/ops.md code 14): x0 ... x(n-1), n >= 1, joined along `axis`; all other dims equal.
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

Status infer_cat(NodeInfo& node) {
  Status st = check_input_count(node, 1, -1);
  if (!st.ok()) return st;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const std::string role = "x" + std::to_string(i);
    st = check_f32_input_min_rank(node, i, role.c_str(), 1);
    if (!st.ok()) return st;
  }
  const TensorDesc& first = node.inputs[0];
  int axis = 0;
  st = get_axis(node, "axis", first.rank, &axis);
  if (!st.ok()) return st;
  std::vector<int64_t> dims(first.dims, first.dims + first.rank);
  for (size_t i = 1; i < node.inputs.size(); ++i) {
    const TensorDesc& x = node.inputs[i];
    bool compatible = x.rank == first.rank;
    for (int d = 0; compatible && d < first.rank; ++d) {
      if (d != axis && x.dims[d] != first.dims[d]) compatible = false;
    }
    if (!compatible) {
      return node.error("input x" + std::to_string(i) + " " + x.to_string() + " does not match x0 " +
                        first.to_string() + " outside axis " + std::to_string(axis));
    }
    if (!checked_add(dims[axis], x.dims[axis], &dims[axis])) {
      return node.error("concatenated size along axis " + std::to_string(axis) + " overflows int64");
    }
  }
  TensorDesc y;
  st = make_f32_desc(node, dims, &y);
  if (!st.ok()) return st;
  node.outputs.assign(1, y);
  return Status::Ok();
}

class CatKernel final : public OpKernel {
 public:
  CatKernel(int64_t outer, std::vector<int64_t> slices, int64_t out_row)
      : outer_(outer), slices_(std::move(slices)), out_row_(out_row) {}

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    float* y = outputs[0].as<float>();
    int64_t column = 0;
    for (size_t i = 0; i < slices_.size(); ++i) {
      const float* x = inputs[i].as<const float>();
      const int64_t slice = slices_[i];
      pool.parallel_for(
          outer_,
          [&](int64_t begin, int64_t end) { f32_concat_slice_ref(x, slice, y, out_row_, column, begin, end); },
          grain_for(slice));
      column += slice;
    }
  }

 private:
  int64_t outer_;                // product of the dims before axis
  std::vector<int64_t> slices_;  // per input: dims[axis] * product of the dims after axis
  int64_t out_row_;              // sum of slices_
};

Result<std::unique_ptr<OpKernel>> create_cat(const NodeInfo& node) {
  const TensorDesc& y = node.outputs[0];
  int axis = 0;
  Status st = get_axis(node, "axis", y.rank, &axis);
  if (!st.ok()) return st;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= y.dims[d];
  for (int d = axis + 1; d < y.rank; ++d) inner *= y.dims[d];
  std::vector<int64_t> slices;
  for (const TensorDesc& x : node.inputs) slices.push_back(x.dims[axis] * inner);
  return std::unique_ptr<OpKernel>(new CatKernel(outer, std::move(slices), y.dims[axis] * inner));
}

}  // namespace

const OpDef kCatOp = {OpKind::kCat, "cat", 1, -1, 1, infer_cat, create_cat};

}  // namespace deployrt
