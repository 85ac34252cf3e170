#include "ops/reduce.h"

#include <string>
#include <vector>

#include "ops/validate.h"

namespace deployrt {

namespace {

// Reads `dims` and `keepdim`; reduced[d] is true for every reduced dim of x.
Status read_attrs(const NodeInfo& node, int rank, std::vector<bool>* reduced, bool* keepdim) {
  std::vector<int64_t> dims;
  Status st = node.get_ints("dims", SIZE_MAX, &dims);
  if (st.ok()) st = get_bool(node, "keepdim", keepdim);
  if (!st.ok()) return st;
  reduced->assign(static_cast<size_t>(rank), dims.empty());
  for (int64_t d : dims) {
    if (d < 0 || d >= rank) {
      return node.error("attribute 'dims' " + ints_to_string(dims) + " has " + std::to_string(d) +
                        ", out of range for rank " + std::to_string(rank));
    }
    if ((*reduced)[d]) {
      return node.error("attribute 'dims' " + ints_to_string(dims) + " repeats dim " + std::to_string(d));
    }
    (*reduced)[d] = true;
  }
  return Status::Ok();
}

// Appends (dim, stride) to a dim list, merging with the previous entry when the pair is one
// contiguous run; size-1 dims are skipped since their index is always 0.
void append_dim(int64_t dim, int64_t stride, int* rank, int64_t* dims, int64_t* strides) {
  if (dim == 1) return;
  if (*rank > 0 && strides[*rank - 1] == stride * dim) {
    dims[*rank - 1] *= dim;
    strides[*rank - 1] = stride;
    return;
  }
  dims[*rank] = dim;
  strides[*rank] = stride;
  ++*rank;
}

}  // namespace

Status infer_reduce(NodeInfo& node, std::initializer_list<DType> dtypes) {
  Status st = check_input_count(node, 1, 1);
  if (st.ok()) st = check_input(node, 0, "x", dtypes, -1);
  if (!st.ok()) return st;
  const TensorDesc& x = node.inputs[0];
  std::vector<bool> reduced;
  bool keepdim = false;
  st = read_attrs(node, x.rank, &reduced, &keepdim);
  if (!st.ok()) return st;
  std::vector<int64_t> dims;
  for (int d = 0; d < x.rank; ++d) {
    if (!reduced[d]) {
      dims.push_back(x.dims[d]);
    } else if (keepdim) {
      dims.push_back(1);
    }
  }
  TensorDesc y;
  st = make_desc(node, x.dtype, dims, &y);
  if (!st.ok()) return st;
  node.outputs.assign(1, y);
  return Status::Ok();
}

Result<MeanPlan> make_reduce_plan(const NodeInfo& node) {
  const TensorDesc& x = node.inputs[0];
  std::vector<bool> reduced;
  bool keepdim = false;
  Status st = read_attrs(node, x.rank, &reduced, &keepdim);
  if (!st.ok()) return st;
  int64_t strides[kMaxRank];
  int64_t stride = 1;
  for (int d = x.rank - 1; d >= 0; --d) {
    strides[d] = stride;
    stride *= x.dims[d];
  }
  MeanPlan plan;
  for (int d = 0; d < x.rank; ++d) {
    if (reduced[d]) {
      plan.reduced_count *= x.dims[d];
      append_dim(x.dims[d], strides[d], &plan.reduced_rank, plan.reduced_dims, plan.reduced_strides);
    } else {
      append_dim(x.dims[d], strides[d], &plan.kept_rank, plan.kept_dims, plan.kept_strides);
    }
  }
  return plan;
}

}  // namespace deployrt
