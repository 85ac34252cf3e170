#include "ops/broadcast.h"

#include <algorithm>
#include <vector>

#include "ops/validate.h"

namespace deployrt {

namespace {

// dims of `d` right-aligned to `rank` dims, padded with leading 1s.
void aligned_dims(const TensorDesc& d, int rank, int64_t out[kMaxRank]) {
  const int lead = rank - d.rank;
  for (int i = 0; i < rank; ++i) out[i] = i < lead ? 1 : d.dims[i - lead];
}

// Contiguous strides of aligned dims, 0 where the dim has size 1 (so it is broadcast).
void broadcast_strides(const int64_t dims[kMaxRank], int rank, int64_t strides[kMaxRank]) {
  int64_t stride = 1;
  for (int i = rank - 1; i >= 0; --i) {
    strides[i] = dims[i] == 1 ? 0 : stride;
    stride *= dims[i];
  }
}

}  // namespace

Status infer_broadcast(NodeInfo& node, std::initializer_list<DType> dtypes, DType out_dtype) {
  Status st = check_input_count(node, 2, 2);
  if (st.ok()) st = check_input(node, 0, "a", dtypes, -1);
  if (st.ok()) st = check_input(node, 1, "b", dtypes, -1);
  if (!st.ok()) return st;
  if (node.inputs[0].dtype != node.inputs[1].dtype) {
    return node.error("inputs 'a' and 'b' must have the same dtype, got " + node.inputs[0].to_string() + " and " +
                      node.inputs[1].to_string());
  }
  const TensorDesc& a = node.inputs[0];
  const TensorDesc& b = node.inputs[1];
  const int rank = std::max(a.rank, b.rank);
  int64_t ad[kMaxRank], bd[kMaxRank];
  aligned_dims(a, rank, ad);
  aligned_dims(b, rank, bd);
  std::vector<int64_t> out(static_cast<size_t>(rank));
  for (int i = 0; i < rank; ++i) {
    if (ad[i] == bd[i] || bd[i] == 1) {
      out[i] = ad[i];
    } else if (ad[i] == 1) {
      out[i] = bd[i];
    } else {
      return node.error("shapes " + a.to_string() + " and " + b.to_string() + " do not broadcast (dim " +
                        std::to_string(i) + " of the aligned shapes: " + std::to_string(ad[i]) + " vs " +
                        std::to_string(bd[i]) + ")");
    }
  }
  TensorDesc y;
  st = make_desc(node, out_dtype == DType::kInvalid ? a.dtype : out_dtype, out, &y);
  if (!st.ok()) return st;
  node.outputs.assign(1, y);
  return Status::Ok();
}

BroadcastPlan make_broadcast_plan(const TensorDesc& a, const TensorDesc& b, const TensorDesc& out) {
  const int rank = out.rank;
  int64_t ad[kMaxRank], bd[kMaxRank], as[kMaxRank], bs[kMaxRank];
  aligned_dims(a, rank, ad);
  aligned_dims(b, rank, bd);
  broadcast_strides(ad, rank, as);
  broadcast_strides(bd, rank, bs);

  BroadcastPlan plan;
  plan.rank = 0;
  for (int i = 0; i < rank; ++i) {
    if (out.dims[i] == 1) continue;  // size-1 output dims contribute nothing to the walk
    if (plan.rank > 0) {
      // Merge with the previous dim when both inputs step through the pair as one run
      // (stride_prev == stride * dim, which also holds for two broadcast dims: 0 == 0).
      const int p = plan.rank - 1;
      if (plan.a_strides[p] == as[i] * out.dims[i] && plan.b_strides[p] == bs[i] * out.dims[i]) {
        plan.dims[p] *= out.dims[i];
        plan.a_strides[p] = as[i];
        plan.b_strides[p] = bs[i];
        continue;
      }
    }
    plan.dims[plan.rank] = out.dims[i];
    plan.a_strides[plan.rank] = as[i];
    plan.b_strides[plan.rank] = bs[i];
    ++plan.rank;
  }
  if (plan.rank == 0) {  // every dim is 1: a single element
    plan.rank = 1;
    plan.dims[0] = 1;
    plan.a_strides[0] = 0;
    plan.b_strides[0] = 0;
  }
  return plan;
}

}  // namespace deployrt
