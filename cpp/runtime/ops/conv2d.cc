// conv2d (docs/ops.md code 1): x[N,C,H,W], weight[OC,C/groups,KH,KW], [bias[OC]].
#include <memory>
#include <string>

#include "kernels/reference/conv2d_ref.h"
#include "ops/ops.h"
#include "ops/parallel.h"
#include "ops/validate.h"
#include "ops/window2d.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

enum Input { kX = 0, kWeight = 1, kBias = 2 };

struct Conv2dAttrs {
  Window2d window;
  int64_t groups = 1;
};

Status read_attrs(const NodeInfo& node, Conv2dAttrs* a) {
  Status st = read_pair_attr(node, "stride", a->window.stride);
  if (st.ok()) st = read_pads_attr(node, a->window.pads);
  if (st.ok()) st = read_pair_attr(node, "dilation", a->window.dilation);
  if (st.ok()) st = node.get_int("groups", &a->groups);
  if (!st.ok()) return st;
  if (a->groups < 1) return node.error("attribute 'groups' must be >= 1, got " + std::to_string(a->groups));
  return Status::Ok();
}

Status infer_conv2d(NodeInfo& node) {
  Status st = check_input_count(node, 2, 3);
  if (st.ok()) st = check_f32_input(node, kX, "x", 4);
  if (st.ok()) st = check_f32_input(node, kWeight, "weight", 4);
  Conv2dAttrs a;
  if (st.ok()) st = read_attrs(node, &a);
  if (!st.ok()) return st;

  const TensorDesc& x = node.inputs[kX];
  const TensorDesc& w = node.inputs[kWeight];
  const int64_t channels = x.dims[1];
  const int64_t out_channels = w.dims[0];
  if (channels % a.groups != 0 || out_channels % a.groups != 0) {
    return node.error("groups " + std::to_string(a.groups) + " must divide input channels " +
                      std::to_string(channels) + " and output channels " + std::to_string(out_channels));
  }
  if (w.dims[1] != channels / a.groups) {
    return node.error("weight " + w.to_string() + " must have " + std::to_string(channels / a.groups) +
                      " input channels per group (x " + x.to_string() + ", groups " + std::to_string(a.groups) + ")");
  }
  if (out_channels < 1 || w.dims[2] < 1 || w.dims[3] < 1) {
    return node.error("weight " + w.to_string() + " must have non-zero output channels and kernel size");
  }
  if (x.dims[2] < 1 || x.dims[3] < 1) return node.error("input x " + x.to_string() + " has an empty spatial dim");
  if (w.dims[2] > (int64_t{1} << 31) || w.dims[3] > (int64_t{1} << 31)) {
    return node.error("weight kernel size of " + w.to_string() + " is too large");
  }
  st = check_optional_vector(node, kBias, "bias", out_channels);
  if (!st.ok()) return st;

  a.window.kernel[0] = w.dims[2];
  a.window.kernel[1] = w.dims[3];
  int64_t out_h = 0, out_w = 0;
  st = conv_output_size(node, a.window, 0, x.dims[2], &out_h);
  if (st.ok()) st = conv_output_size(node, a.window, 1, x.dims[3], &out_w);
  if (!st.ok()) return st;
  TensorDesc y;
  st = make_f32_desc(node, {x.dims[0], out_channels, out_h, out_w}, &y);
  if (!st.ok()) return st;
  node.outputs.assign(1, y);
  return Status::Ok();
}

class Conv2dKernel final : public OpKernel {
 public:
  Conv2dKernel(const Conv2dShape& shape, bool has_bias_slot) : shape_(shape), has_bias_slot_(has_bias_slot) {}

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    const float* x = inputs[kX].as<const float>();
    const float* w = inputs[kWeight].as<const float>();
    // An absent optional bias is either a missing slot or a slot with null data.
    const float* bias = has_bias_slot_ ? inputs[kBias].as<const float>() : nullptr;
    float* y = outputs[0].as<float>();
    const Conv2dShape& s = shape_;
    // One work item = one output plane (n, oc).
    const int64_t plane_work =
        work_product({s.out_height, s.out_width, s.in_channels / s.groups, s.kernel_h, s.kernel_w});
    pool.parallel_for(
        s.batch * s.out_channels,
        [&](int64_t begin, int64_t end) { f32_conv2d_ref(s, x, w, bias, y, begin, end); },
        grain_for(plane_work));
  }

 private:
  Conv2dShape shape_;
  bool has_bias_slot_;
};

Result<std::unique_ptr<OpKernel>> create_conv2d(const NodeInfo& node) {
  Conv2dAttrs a;
  Status st = read_attrs(node, &a);
  if (!st.ok()) return st;
  const TensorDesc& x = node.inputs[kX];
  const TensorDesc& w = node.inputs[kWeight];
  const TensorDesc& y = node.outputs[0];
  Conv2dShape s;
  s.batch = x.dims[0];
  s.in_channels = x.dims[1];
  s.in_height = x.dims[2];
  s.in_width = x.dims[3];
  s.out_channels = y.dims[1];
  s.out_height = y.dims[2];
  s.out_width = y.dims[3];
  s.kernel_h = w.dims[2];
  s.kernel_w = w.dims[3];
  s.stride_h = a.window.stride[0];
  s.stride_w = a.window.stride[1];
  s.pad_top = a.window.pads[0];
  s.pad_left = a.window.pads[1];
  s.dilation_h = a.window.dilation[0];
  s.dilation_w = a.window.dilation[1];
  s.groups = a.groups;
  return std::unique_ptr<OpKernel>(new Conv2dKernel(s, node.inputs.size() > kBias));
}

}  // namespace

const OpDef kConv2dOp = {OpKind::kConv2d, "conv2d", 2, 3, 1, infer_conv2d, create_conv2d};

}  // namespace deployrt
