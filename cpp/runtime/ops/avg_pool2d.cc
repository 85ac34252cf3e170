// avg_pool2d (docs/ops.md code 6): x[N,C,H,W]; kernel, stride, pads, ceil_mode,
// count_include_pad, divisor_override (0 = none).
#include <memory>
#include <string>

#include "kernels/reference/pool2d_ref.h"
#include "ops/ops.h"
#include "ops/parallel.h"
#include "ops/validate.h"
#include "ops/window2d.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

struct AvgPoolAttrs {
  Window2d window;  // dilation stays 1: avg_pool2d has none
  bool ceil_mode = false;
  bool count_include_pad = true;
  int64_t divisor_override = 0;
};

Status read_attrs(const NodeInfo& node, AvgPoolAttrs* a) {
  Status st = read_pair_attr(node, "kernel", a->window.kernel);
  if (st.ok()) st = read_pair_attr(node, "stride", a->window.stride);
  if (st.ok()) st = read_pads_attr(node, a->window.pads);
  if (st.ok()) st = get_bool(node, "ceil_mode", &a->ceil_mode);
  if (st.ok()) st = get_bool(node, "count_include_pad", &a->count_include_pad);
  if (st.ok()) st = node.get_int("divisor_override", &a->divisor_override);
  if (st.ok()) st = check_pool_pads(node, a->window);
  if (!st.ok()) return st;
  // PyTorch rejects 0 (here it means "none"); a negative divisor has no use, so refuse it.
  if (a->divisor_override < 0 || a->divisor_override > (int64_t{1} << 31)) {
    return node.error("attribute 'divisor_override' must be 0 (none) or in [1, 2^31], got " +
                      std::to_string(a->divisor_override));
  }
  return Status::Ok();
}

Status infer_avg_pool2d(NodeInfo& node) {
  Status st = check_input_count(node, 1, 1);
  if (st.ok()) st = check_f32_input(node, 0, "x", 4);
  AvgPoolAttrs a;
  if (st.ok()) st = read_attrs(node, &a);
  if (!st.ok()) return st;
  const TensorDesc& x = node.inputs[0];
  if (x.dims[2] < 1 || x.dims[3] < 1) return node.error("input x " + x.to_string() + " has an empty spatial dim");
  int64_t out_h = 0, out_w = 0;
  st = pool_output_size(node, a.window, 0, x.dims[2], a.ceil_mode, &out_h);
  if (st.ok()) st = pool_output_size(node, a.window, 1, x.dims[3], a.ceil_mode, &out_w);
  TensorDesc y;
  if (st.ok()) st = make_f32_desc(node, {x.dims[0], x.dims[1], out_h, out_w}, &y);
  if (!st.ok()) return st;
  node.outputs.assign(1, y);
  return Status::Ok();
}

class AvgPool2dKernel final : public OpKernel {
 public:
  AvgPool2dKernel(const Pool2dShape& shape, bool count_include_pad, int64_t divisor_override)
      : shape_(shape), count_include_pad_(count_include_pad), divisor_override_(divisor_override) {}

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    const float* x = inputs[0].as<const float>();
    float* y = outputs[0].as<float>();
    const Pool2dShape& s = shape_;
    pool.parallel_for(
        s.planes,
        [&](int64_t begin, int64_t end) {
          f32_avg_pool2d_ref(s, count_include_pad_, divisor_override_, x, y, begin, end);
        },
        grain_for(work_product({s.out_height, s.out_width, s.kernel_h, s.kernel_w})));
  }

 private:
  Pool2dShape shape_;
  bool count_include_pad_;
  int64_t divisor_override_;
};

Result<std::unique_ptr<OpKernel>> create_avg_pool2d(const NodeInfo& node) {
  AvgPoolAttrs a;
  Status st = read_attrs(node, &a);
  if (!st.ok()) return st;
  const TensorDesc& x = node.inputs[0];
  const TensorDesc& y = node.outputs[0];
  Pool2dShape s;
  s.planes = x.dims[0] * x.dims[1];
  s.in_height = x.dims[2];
  s.in_width = x.dims[3];
  s.out_height = y.dims[2];
  s.out_width = y.dims[3];
  s.kernel_h = a.window.kernel[0];
  s.kernel_w = a.window.kernel[1];
  s.stride_h = a.window.stride[0];
  s.stride_w = a.window.stride[1];
  s.pad_top = a.window.pads[0];
  s.pad_left = a.window.pads[1];
  s.pad_bottom = a.window.pads[2];
  s.pad_right = a.window.pads[3];
  return std::unique_ptr<OpKernel>(new AvgPool2dKernel(s, a.count_include_pad, a.divisor_override));
}

}  // namespace

const OpDef kAvgPool2dOp = {OpKind::kAvgPool2d, "avg_pool2d", 1, 1, 1, infer_avg_pool2d, create_avg_pool2d};

}  // namespace deployrt
