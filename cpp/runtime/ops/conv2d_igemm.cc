#include "ops/conv2d_igemm.h"

#include <utility>

#include "cpu/cpu_features.h"
#include "kernels/f32-conv/conv_igemm.h"
#include "ops/conv_weight_panels.h"
#include "ops/parallel.h"
#include "ops/validate.h"
#include "ops/weight_cache.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

enum Input { kX = 0, kWeight = 1, kBias = 2, kResidual = 3 };

class Conv2dIgemmKernel final : public OpKernel {
 public:
  Conv2dIgemmKernel(const ConvIgemmPlan& plan, std::shared_ptr<const void> packed_weights, Activation act)
      : plan_(plan), packed_(std::move(packed_weights)), act_(act) {}

  size_t workspace_bytes() const override { return plan_.workspace_bytes(); }
  bool reads_input(size_t k) const override { return k != kWeight; }  // packed at create

  void run(const TensorRef* inputs, TensorRef* outputs, void* workspace, ThreadPool& pool) const override {
    const Conv2dShape& s = plan_.shape;
    const float* x = inputs[kX].as<const float>();
    const float* bias = inputs[kBias].as<const float>();  // null when absent (OpDef::input_slots)
    const float* residual = inputs[kResidual].as<const float>();
    float* y = outputs[0].as<float>();
    const float* a = static_cast<const float*>(packed_.get());
    float* ws = static_cast<float*>(workspace);
    const int64_t in_image = s.in_channels * s.in_height * s.in_width;
    const int64_t out_image = s.out_channels * s.out_height * s.out_width;
    const int64_t row_work = work_product({plan_.k, s.out_channels / s.groups, s.out_width});
    for (int64_t n = 0; n < s.batch; ++n) {
      const float* xn = x + n * in_image;
      pool.parallel_for(
          s.in_channels, [&](int64_t begin, int64_t end) { f32_conv_igemm_pack_input(plan_, xn, ws, begin, end); },
          grain_for(plan_.channel_floats()));
      const float* rn = residual != nullptr ? residual + n * out_image : nullptr;
      float* yn = y + n * out_image;
      pool.parallel_for(
          plan_.row_items(),
          [&](int64_t begin, int64_t end) { f32_conv_igemm_rows(plan_, a, ws, bias, rn, act_, yn, begin, end); },
          grain_for(row_work));
    }
  }

 private:
  ConvIgemmPlan plan_;
  std::shared_ptr<const void> packed_;  // possibly shared with other specializations (ops/weight_cache.h)
  Activation act_;
};

}  // namespace

// Measured on this machine (1 thread, AVX-512), im2col + packed GEMM vs indirect GEMM,
// both with their epilogues; ratio = indirect / im2col:
//   7x7 s2 3->64 224->112 (ResNet stem): 0.59-0.65; 3x3 s2 3->32 224->112 (MobileNetV2
//   stem): 0.46-0.54; 3x3 s2 64->128 and 128->128 56->28: 0.85-0.97 (in the models 0.8-1.1:
//   within this VM's noise); 3x3 s2 128->256 28->14 (tiles 14 of 16 wide): 1.01-1.10;
//   256->512 14->7 (7 of 16): 1.76; 1x1 s2 64->128 56->28: 0.94-1.02, 256->512: 1.06-1.21,
//   512->1024 28->14 and 1024->2048 14->7: 1.16-2.1.
// im2col writes K rows of OH*OW per call, a cost the GEMM repays over OC rows: the path
// wins where the reduction runs over many taps of few channels, and loses where weights
// no longer fit in L2 (every output row streams all A panels again) or rows are shorter
// than a tile. A strided 1x1 reads each B row from a different plane and gains nothing
// over im2col's cheap copy.
bool igemm_wins(const Conv2dShape& s) {
  if (s.stride_h < 2 && s.stride_w < 2) return false;
  if (s.kernel_h * s.kernel_w == 1 || s.out_width < 16) return false;
  const int64_t weight_bytes =
      work_product({s.out_channels / s.groups, s.in_channels / s.groups, s.kernel_h, s.kernel_w, 4});
  if (weight_bytes > (int64_t{1} << 20)) return false;
  // The workspace is about the input's size: keep it bounded.
  const int64_t floats = f32_conv_igemm_workspace_floats(s, 32);
  return floats >= 0 && floats <= (int64_t{1} << 26);
}

Result<std::unique_ptr<OpKernel>> create_conv2d_igemm(const NodeInfo& node, const Conv2dShape& s, Activation act) {
  ConvIgemmPlan plan;
  if (!make_conv_igemm_plan(s, f32_igemm_select(isa_level(), s.out_channels / s.groups, s.out_width), &plan)) {
    return node.error("out of memory making the conv offset table of " + node.inputs[kWeight].to_string());
  }
  std::shared_ptr<const void> packed = conv_weight_panels(node, plan);
  if (!packed) return node.error("out of memory packing weights " + node.inputs[kWeight].to_string());
  return std::unique_ptr<OpKernel>(new Conv2dIgemmKernel(plan, std::move(packed), act));
}

}  // namespace deployrt
