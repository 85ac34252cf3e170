// adaptive_avg_pool2d (docs/ops.md code 7): x[N,C,H,W]; output_size INTS[2] >= 1.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/reference/pool2d_ref.h"
#include "ops/ops.h"
#include "ops/parallel.h"
#include "ops/validate.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

Status infer_adaptive_avg_pool2d(NodeInfo& node) {
  Status st = check_input_count(node, 1, 1);
  if (st.ok()) st = check_f32_input(node, 0, "x", 4);
  std::vector<int64_t> size;
  if (st.ok()) st = get_ints_at_least(node, "output_size", 2, 1, &size);
  if (!st.ok()) return st;
  const TensorDesc& x = node.inputs[0];
  if (x.dims[2] < 1 || x.dims[3] < 1) {
    return node.error("input x " + x.to_string() + " has an empty spatial dim");
  }
  // The kernel's window bounds compute (i + 1) * in_size for i < out_size.
  int64_t product = 0;
  if (size[0] == INT64_MAX || size[1] == INT64_MAX || !checked_mul(size[0] + 1, x.dims[2], &product) ||
      !checked_mul(size[1] + 1, x.dims[3], &product)) {
    return node.error("output_size " + ints_to_string(size) + " is too large for input " + x.to_string());
  }
  TensorDesc y;
  st = make_f32_desc(node, {x.dims[0], x.dims[1], size[0], size[1]}, &y);
  if (!st.ok()) return st;
  node.outputs.assign(1, y);
  return Status::Ok();
}

// Output 1x1 (global average pooling: the head of every CNN here). The reference keeps
// one running sum, a chain of dependent adds; eight interleaved partial sums (one vector
// add per step once compiled), joined in a fixed order, are several times faster and
// give the same result for any thread count. Within the parity bound of the reference's
// order: the sums differ only by rounding.
float plane_mean(const float* in, int64_t n) {
  float part[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) part[j] += in[i + j];
  }
  float sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
  for (; i < n; ++i) sum += in[i];
  return sum / static_cast<float>(n);
}

class GlobalAvgPool2dKernel final : public OpKernel {
 public:
  explicit GlobalAvgPool2dKernel(const Pool2dShape& shape) : shape_(shape) {}

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    const float* x = inputs[0].as<const float>();
    float* y = outputs[0].as<float>();
    const int64_t plane = shape_.in_height * shape_.in_width;
    pool.parallel_for(
        shape_.planes,
        [&](int64_t begin, int64_t end) {
          for (int64_t p = begin; p < end; ++p) y[p] = plane_mean(x + p * plane, plane);
        },
        grain_for(plane));
  }

 private:
  Pool2dShape shape_;
};

class AdaptiveAvgPool2dKernel final : public OpKernel {
 public:
  explicit AdaptiveAvgPool2dKernel(const Pool2dShape& shape) : shape_(shape) {}

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    const float* x = inputs[0].as<const float>();
    float* y = outputs[0].as<float>();
    const Pool2dShape& s = shape_;
    // Every input element is read about once per plane, more when windows overlap.
    const int64_t plane_work = s.in_height * s.in_width + s.out_height * s.out_width;
    pool.parallel_for(
        s.planes, [&](int64_t begin, int64_t end) { f32_adaptive_avg_pool2d_ref(s, x, y, begin, end); },
        grain_for(plane_work));
  }

 private:
  Pool2dShape shape_;
};

Result<std::unique_ptr<OpKernel>> create_adaptive_avg_pool2d(const NodeInfo& node) {
  const TensorDesc& x = node.inputs[0];
  const TensorDesc& y = node.outputs[0];
  Pool2dShape s;
  s.planes = x.dims[0] * x.dims[1];
  s.in_height = x.dims[2];
  s.in_width = x.dims[3];
  s.out_height = y.dims[2];
  s.out_width = y.dims[3];
  if (s.out_height == 1 && s.out_width == 1) return std::unique_ptr<OpKernel>(new GlobalAvgPool2dKernel(s));
  return std::unique_ptr<OpKernel>(new AdaptiveAvgPool2dKernel(s));
}

}  // namespace

const OpDef kAdaptiveAvgPool2dOp = {OpKind::kAdaptiveAvgPool2d, "adaptive_avg_pool2d", 1, 1, 1,
                                    infer_adaptive_avg_pool2d, create_adaptive_avg_pool2d};

}  // namespace deployrt
