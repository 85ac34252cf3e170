#include "ops/window2d.h"

#include <string>
#include <vector>

#include "ops/validate.h"

namespace deployrt {

namespace {
// Bounding attributes to int32 range keeps every product below in int64 (in_size is a
// verified dim, pads/kernel/dilation < 2^31), so the arithmetic cannot overflow.
constexpr int64_t kMaxWindowValue = (int64_t{1} << 31) - 1;
const char* const kDimNames[2] = {"height", "width"};
}  // namespace

Status read_pair_attr(const NodeInfo& node, const char* name, int64_t out[2]) {
  std::vector<int64_t> v;
  Status st = get_ints_at_least(node, name, 2, 1, &v);
  if (!st.ok()) return st;
  for (int i = 0; i < 2; ++i) {
    if (v[i] > kMaxWindowValue) {
      return node.error(std::string("attribute '") + name + "' = " + ints_to_string(v) + " exceeds " +
                        std::to_string(kMaxWindowValue));
    }
    out[i] = v[i];
  }
  return Status::Ok();
}

Status read_pads_attr(const NodeInfo& node, int64_t out[4]) {
  std::vector<int64_t> v;
  Status st = get_ints_at_least(node, "pads", 4, 0, &v);
  if (!st.ok()) return st;
  for (int i = 0; i < 4; ++i) {
    if (v[i] > kMaxWindowValue) {
      return node.error("attribute 'pads' = " + ints_to_string(v) + " exceeds " + std::to_string(kMaxWindowValue));
    }
    out[i] = v[i];
  }
  return Status::Ok();
}

Status check_pool_pads(const NodeInfo& node, const Window2d& w) {
  for (int i = 0; i < 4; ++i) {
    const int64_t k = w.kernel[i % 2];
    if (w.pads[i] > k / 2) {
      return node.error("pads " +
                        ints_to_string({w.pads[0], w.pads[1], w.pads[2], w.pads[3]}) +
                        " must be at most half the kernel " + ints_to_string({w.kernel[0], w.kernel[1]}));
    }
  }
  return Status::Ok();
}

Status conv_output_size(const NodeInfo& node, const Window2d& w, int dim, int64_t in_size, int64_t* out) {
  const int64_t padded = in_size + w.pads[dim] + w.pads[dim + 2];
  const int64_t span = w.dilation[dim] * (w.kernel[dim] - 1) + 1;  // effective kernel size
  if (padded < span) {
    return node.error(std::string("output ") + kDimNames[dim] + " would be < 1: padded input " +
                      std::to_string(padded) + " is smaller than the dilated kernel " + std::to_string(span));
  }
  *out = (padded - span) / w.stride[dim] + 1;
  return Status::Ok();
}

Status pool_output_size(const NodeInfo& node, const Window2d& w, int dim, int64_t in_size, bool ceil_mode,
                        int64_t* out) {
  const int64_t pad_begin = w.pads[dim];
  const int64_t stride = w.stride[dim];
  const int64_t numerator =
      in_size + pad_begin + w.pads[dim + 2] - w.dilation[dim] * (w.kernel[dim] - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  // PyTorch divides rounding toward -inf (div_rtn).
  int64_t size = numerator / stride;
  if (numerator % stride != 0 && numerator < 0) --size;
  size += 1;
  if (ceil_mode && (size - 1) * stride >= in_size + pad_begin) --size;
  if (size < 1) {
    return node.error(std::string("output ") + kDimNames[dim] + " is " + std::to_string(size) +
                      " (< 1) for input " + kDimNames[dim] + " " + std::to_string(in_size));
  }
  *out = size;
  return Status::Ok();
}

}  // namespace deployrt
