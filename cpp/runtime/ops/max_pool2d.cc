// max_pool2d (docs/ops.md code 5): x[N,C,H,W]; kernel, stride, pads, dilation, ceil_mode.
#include <memory>
#include <string>

#include "kernels/f32-pool/pool.h"
#include "ops/ops.h"
#include "ops/parallel.h"
#include "ops/validate.h"
#include "ops/window2d.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

Status read_attrs(const NodeInfo& node, Window2d* w, bool* ceil_mode) {
  Status st = read_pair_attr(node, "kernel", w->kernel);
  if (st.ok()) st = read_pair_attr(node, "stride", w->stride);
  if (st.ok()) st = read_pads_attr(node, w->pads);
  if (st.ok()) st = read_pair_attr(node, "dilation", w->dilation);
  if (st.ok()) st = get_bool(node, "ceil_mode", ceil_mode);
  if (st.ok()) st = check_pool_pads(node, *w);
  return st;
}

Status infer_max_pool2d(NodeInfo& node) {
  Status st = check_input_count(node, 1, 1);
  if (st.ok()) st = check_f32_input(node, 0, "x", 4);
  Window2d w;
  bool ceil_mode = false;
  if (st.ok()) st = read_attrs(node, &w, &ceil_mode);
  if (!st.ok()) return st;
  const TensorDesc& x = node.inputs[0];
  if (x.dims[2] < 1 || x.dims[3] < 1) return node.error("input x " + x.to_string() + " has an empty spatial dim");
  int64_t out_h = 0, out_w = 0;
  st = pool_output_size(node, w, 0, x.dims[2], ceil_mode, &out_h);
  if (st.ok()) st = pool_output_size(node, w, 1, x.dims[3], ceil_mode, &out_w);
  TensorDesc y;
  if (st.ok()) st = make_f32_desc(node, {x.dims[0], x.dims[1], out_h, out_w}, &y);
  if (!st.ok()) return st;
  node.outputs.assign(1, y);
  return Status::Ok();
}

// One plane (n, c) per work item through the f32-pool microkernel chosen at load.
class MaxPool2dKernel final : public OpKernel {
 public:
  MaxPool2dKernel(const Pool2dShape& shape, F32MaxPoolUkernel ukernel) : shape_(shape), ukernel_(ukernel) {}

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    const float* x = inputs[0].as<const float>();
    float* y = outputs[0].as<float>();
    const Pool2dShape& s = shape_;
    const int64_t in_plane = s.in_height * s.in_width, out_plane = s.out_height * s.out_width;
    pool.parallel_for(
        s.planes,
        [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) ukernel_(s, x + i * in_plane, y + i * out_plane);
        },
        grain_for(work_product({s.out_height, s.out_width, s.kernel_h, s.kernel_w})));
  }

 private:
  Pool2dShape shape_;
  F32MaxPoolUkernel ukernel_;
};

Result<std::unique_ptr<OpKernel>> create_max_pool2d(const NodeInfo& node) {
  Window2d w;
  bool ceil_mode = false;
  Status st = read_attrs(node, &w, &ceil_mode);
  if (!st.ok()) return st;
  const TensorDesc& x = node.inputs[0];
  const TensorDesc& y = node.outputs[0];
  Pool2dShape s;
  s.planes = x.dims[0] * x.dims[1];
  s.in_height = x.dims[2];
  s.in_width = x.dims[3];
  s.out_height = y.dims[2];
  s.out_width = y.dims[3];
  s.kernel_h = w.kernel[0];
  s.kernel_w = w.kernel[1];
  s.stride_h = w.stride[0];
  s.stride_w = w.stride[1];
  s.pad_top = w.pads[0];
  s.pad_left = w.pads[1];
  s.pad_bottom = w.pads[2];
  s.pad_right = w.pads[3];
  s.dilation_h = w.dilation[0];
  s.dilation_w = w.dilation[1];
  // Shapes beyond the SIMD variants' int32 lane offsets take the scalar one at any ISA.
  const F32MaxPoolVariant& variant =
      f32_max_pool2d_select(f32_max_pool2d_fits_int32(s) ? isa_level() : IsaLevel::kScalar);
  return std::unique_ptr<OpKernel>(new MaxPool2dKernel(s, variant.fn));
}

}  // namespace

const OpDef kMaxPool2dOp = {OpKind::kMaxPool2d, "max_pool2d", 1, 1, 1, infer_max_pool2d, create_max_pool2d};

}  // namespace deployrt
