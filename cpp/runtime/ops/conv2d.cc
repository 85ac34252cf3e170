// conv2d (docs/ops.md code 1): x[N,C,H,W], weight[OC,C/groups,KH,KW], [bias[OC]], [residual],
// with the fused epilogue attributes act_min / act_max.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "cpu/cpu_features.h"
#include "kernels/f32-conv/conv_gemm.h"
#include "kernels/f32-dwconv/dwconv.h"
#include "kernels/reference/conv2d_ref.h"
#include "ops/activation_attrs.h"
#include "ops/conv_weight_panels.h"
#include "ops/conv2d_igemm.h"
#include "ops/conv2d_winograd.h"
#include "ops/ops.h"
#include "ops/parallel.h"
#include "ops/validate.h"
#include "ops/weight_cache.h"
#include "ops/window2d.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

enum Input { kX = 0, kWeight = 1, kBias = 2, kResidual = 3 };

struct Conv2dAttrs {
  Window2d window;
  int64_t groups = 1;
  Activation act;
};

Status read_attrs(const NodeInfo& node, Conv2dAttrs* a) {
  Status st = read_pair_attr(node, "stride", a->window.stride);
  if (st.ok()) st = read_pads_attr(node, a->window.pads);
  if (st.ok()) st = read_pair_attr(node, "dilation", a->window.dilation);
  if (st.ok()) st = node.get_int("groups", &a->groups);
  if (st.ok()) st = read_activation_attrs(node, &a->act);
  if (!st.ok()) return st;
  if (a->groups < 1) return node.error("attribute 'groups' must be >= 1, got " + std::to_string(a->groups));
  return Status::Ok();
}

Status infer_conv2d(NodeInfo& node) {
  Status st = check_input_count(node, 2, 4);
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
  if (st.ok()) st = check_optional_residual(node, kResidual, y);
  if (!st.ok()) return st;
  node.outputs.assign(1, y);
  return Status::Ok();
}

// The plane-wise reference: for weights that are not constants (nothing to prepack) and
// for the convs neither the GEMM nor the depthwise path takes (thin groups).
class Conv2dKernel final : public OpKernel {
 public:
  Conv2dKernel(const Conv2dShape& shape, Activation act) : shape_(shape), act_(act) {}

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    const float* x = inputs[kX].as<const float>();
    const float* w = inputs[kWeight].as<const float>();
    const float* bias = inputs[kBias].as<const float>();  // null when absent (OpDef::input_slots)
    const float* residual = inputs[kResidual].as<const float>();
    float* y = outputs[0].as<float>();
    const Conv2dShape& s = shape_;
    // One work item = one output plane (n, oc).
    const int64_t plane_work =
        work_product({s.out_height, s.out_width, s.in_channels / s.groups, s.kernel_h, s.kernel_w});
    pool.parallel_for(
        s.batch * s.out_channels,
        [&](int64_t begin, int64_t end) { f32_conv2d_ref(s, x, w, bias, residual, act_, y, begin, end); },
        grain_for(plane_work));
  }

 private:
  Conv2dShape shape_;
  Activation act_;
};

// Packed GEMM (kernels/f32-conv/conv_gemm.h) with the weights packed here, once.
class Conv2dGemmKernel final : public OpKernel {
 public:
  // `threads`: the pool it will run on (the load pool's). The order is chosen for it here,
  // so the workspace holds what that order uses: one B panel per thread for columns, all
  // of them for tiles.
  Conv2dGemmKernel(const ConvGemmPlan& plan, std::shared_ptr<const void> packed_weights, Activation act,
                   int threads)
      : plan_(plan), packed_(std::move(packed_weights)), act_(act) {
    columns_ = columns_first(threads);
    slots_ = std::max<int64_t>(1, std::min<int64_t>(threads, plan_.groups_columns()));
  }

  bool reads_input(size_t k) const override { return k != kWeight; }  // packed at create
  size_t workspace_bytes() const override {
    if (plan_.direct || !columns_) return plan_.workspace_bytes();
    return static_cast<size_t>(slots_ * plan_.b_panel_floats()) * sizeof(float);
  }

  void run(const TensorRef* inputs, TensorRef* outputs, void* workspace, ThreadPool& pool) const override {
    const Conv2dShape& s = plan_.shape;
    const float* x = inputs[kX].as<const float>();
    const float* bias = inputs[kBias].as<const float>();
    const float* residual = inputs[kResidual].as<const float>();
    float* y = outputs[0].as<float>();
    const float* a = static_cast<const float*>(packed_.get());
    float* b = static_cast<float*>(workspace);
    const int64_t in_image = s.in_channels * s.in_height * s.in_width;
    const int64_t out_image = s.out_channels * plan_.cols;
    const int64_t columns = s.groups * plan_.n_panels;
    const int64_t tile_work = work_product({plan_.k, plan_.ukernel.mr, plan_.ukernel.nr});
    for (int64_t n = 0; n < s.batch; ++n) {
      const float* xn = x + n * in_image;
      const float* rn = residual != nullptr ? residual + n * out_image : nullptr;
      float* yn = y + n * out_image;
      if (columns_) {
        // One contiguous range of columns per part, part p packing into B slot p. A pool
        // with more threads than slots (a shape specialization prepared during a call,
        // without the load pool) runs on `slots_` of them.
        const int64_t grain = grain_for(work_product({tile_work, plan_.m_panels}));
        const int64_t parts = std::max<int64_t>(1, std::min<int64_t>({slots_, pool.num_threads(), columns / grain}));
        pool.parallel_for(parts, [&](int64_t first_part, int64_t end_part) {
          for (int64_t part = first_part; part < end_part; ++part) {
            int64_t begin = 0, end = 0;
            even_piece(columns, parts, part, &begin, &end);
            f32_conv_gemm_columns(plan_, a, xn, b + part * plan_.b_panel_floats(), bias, rn, act_, yn, begin, end);
          }
        });
      } else {
        if (!plan_.direct && s.groups == 1 && columns < pool.num_threads()) {
          // Fewer panels than threads (a 7x7 output is one panel): cut them along the
          // channels so every thread packs a piece (ResNet layer4's 3x3 convs at 2 threads).
          const int64_t parts = std::min<int64_t>(s.in_channels, 4 * pool.num_threads());
          pool.parallel_for(
              columns * parts,
              [&](int64_t begin, int64_t end) { f32_conv_gemm_pack_b_pieces(plan_, parts, xn, b, begin, end); },
              grain_for(plan_.b_panel_floats() / parts));
        } else if (!plan_.direct) {
          pool.parallel_for(
              columns, [&](int64_t begin, int64_t end) { f32_conv_gemm_pack_b(plan_, xn, b, begin, end); },
              grain_for(plan_.b_panel_floats()));
        }
        pool.parallel_for(
            s.groups * plan_.m_panels * plan_.n_panels,
            [&](int64_t begin, int64_t end) { f32_conv_gemm_tiles(plan_, a, xn, b, bias, rn, act_, yn, begin, end); },
            grain_for(tile_work));
      }
    }
  }

 private:
  // Activation-heavy layers (many column panels, weights that fit in L2) pack and consume
  // each B panel in one pass; weight-heavy ones pack all of B, then sweep tiles so each A
  // panel is reused from cache across the columns. So do short reductions (K < 96, e.g.
  // MobileNetV2's expansions): there the output stores dominate, and one B panel's tiles
  // land in every output channel's plane at once, while tiles walk along the rows
  // (measured 1.1-1.6x faster at K = 16..64, slower from K = 144 up; at K = 96 columns
  // measured 7% faster on MobileNetV2's features.2 projection, neutral on its expansions).
  // Columns need enough panels to split evenly: 4 per thread, or (threads > 1) a multiple
  // of the thread count. Then each thread reads only its own columns of the input, where
  // tiles split by rows make every thread read all of it, half from the other core's cache
  // (MobileNetV2's 14x14 projections, 4 panels of 49 at 2 threads: 576->96 0.154 vs
  // 0.187 ms, 384->64 0.082 vs 0.089 ms, microbenchmark).
  // Weights past L2 still go columns-first when all of B is as large: tiles would re-read
  // B from beyond L2 for every A panel, where columns stream A once per B panel (ResNet-50's
  // layer3.0.conv2, 3x3 s2 256->256 28->14, A 2.4 MB, B 1.8 MB in 4 panels: 0.74-0.76x at
  // 1 and 2 threads, interleaved microbenchmark with cold caches).
  bool columns_first(int threads) const {
    constexpr int64_t kMinColumnsK = 96;
    constexpr int64_t kCachedBytes = int64_t{1} << 20;
    const int64_t a_bytes = plan_.oc_per_group * plan_.k * static_cast<int64_t>(sizeof(float));
    const int64_t b_bytes = plan_.n_panels * plan_.b_panel_floats() * static_cast<int64_t>(sizeof(float));
    const int64_t columns = plan_.groups_columns();
    const bool balanced = columns >= 4 * threads || (threads > 1 && columns % threads == 0 && columns >= 2 * threads);
    // Two A panels or fewer take columns at any K: there are too few output planes for the
    // stores to dominate, and tiles would read the input once per A panel (MobileNetV2's
    // 32->16 at 112x112, 8x49 tiles: columns 0.209 vs 0.241 ms at 1 thread, 0.107 vs 0.118
    // at 2, medians of 5 interleaved microbenchmark rounds).
    const bool short_k_ok = plan_.k >= kMinColumnsK || plan_.m_panels <= 2;
    return short_k_ok && balanced && (a_bytes <= kCachedBytes || b_bytes > kCachedBytes);
  }

  ConvGemmPlan plan_;
  std::shared_ptr<const void> packed_;  // possibly shared with other specializations (ops/weight_cache.h)
  Activation act_;
  bool columns_ = false;  // columns_first() for the threads it was created for
  int64_t slots_ = 1;     // B panel slots of the columns order: those threads, at most the columns
};

// Depthwise (one input channel per group, any channel multiplier): one plane per (n, oc)
// through the f32-dwconv microkernel, reading the weights in place.
class Conv2dDepthwiseKernel final : public OpKernel {
 public:
  Conv2dDepthwiseKernel(const Conv2dShape& shape, const DwConvPlane& plane, F32DwConvUkernel ukernel)
      : shape_(shape), plane_(plane), ukernel_(ukernel) {}

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    const float* x = inputs[kX].as<const float>();
    const float* w = inputs[kWeight].as<const float>();
    const float* bias = inputs[kBias].as<const float>();
    const float* residual = inputs[kResidual].as<const float>();
    float* y = outputs[0].as<float>();
    const Conv2dShape& s = shape_;
    const int64_t multiplier = s.out_channels / s.in_channels;
    const int64_t in_plane = s.in_height * s.in_width, out_plane = s.out_height * s.out_width;
    const int64_t taps = s.kernel_h * s.kernel_w;
    pool.parallel_for(
        s.batch * s.out_channels,
        [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) {
            const int64_t n = i / s.out_channels, oc = i % s.out_channels;
            ukernel_(plane_, x + (n * s.in_channels + oc / multiplier) * in_plane, w + oc * taps,
                     bias != nullptr ? bias[oc] : 0.0f, residual != nullptr ? residual + i * out_plane : nullptr,
                     y + i * out_plane);
          }
        },
        grain_for(work_product({out_plane, taps})));
  }

 private:
  Conv2dShape shape_;
  DwConvPlane plane_;
  F32DwConvUkernel ukernel_;
};

// GEMM needs constant weights to prepack, and enough work per group to fill its tiles
// (thin grouped convs stay on the plane-wise reference; depthwise takes its own kernel first).
bool use_gemm(const NodeInfo& node, const Conv2dShape& s) {
  if (constant_f32(node, kWeight) == nullptr) return false;
  if (s.groups == 1) return true;
  return s.in_channels / s.groups >= 8 && s.out_channels / s.groups >= 8;
}

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
  if (s.in_channels == s.groups) {
    const DwConvPlane plane = dwconv_plane_of(s, a.act);
    if (f32_dwconv_fits_int32(plane)) {
      return std::unique_ptr<OpKernel>(
          new Conv2dDepthwiseKernel(s, plane, f32_dwconv_select(isa_level()).fn));
    }
  }
  // Winograd F(4x4, 3x3) for the dense stride-1 3x3 convs where it beats im2col + GEMM.
  if (use_gemm(node, s) && winograd_wins(s)) return create_conv2d_winograd(node, s, a.act);
  // Indirect GEMM for the strided convs where it beats writing an im2col matrix per call.
  if (use_gemm(node, s) && igemm_wins(s)) return create_conv2d_igemm(node, s, a.act);
  if (use_gemm(node, s)) {
    const ConvGemmPlan plan =
        make_conv_gemm_plan(s, f32_gemm_select(isa_level(), s.out_channels / s.groups, s.out_height * s.out_width));
    std::shared_ptr<const void> packed = conv_weight_panels(node, plan);
    if (!packed) return node.error("out of memory packing weights " + node.inputs[kWeight].to_string());
    return std::unique_ptr<OpKernel>(new Conv2dGemmKernel(plan, std::move(packed), a.act, load_pool_threads()));
  }
  return std::unique_ptr<OpKernel>(new Conv2dKernel(s, a.act));
}

}  // namespace

const OpDef kConv2dOp = {OpKind::kConv2d, "conv2d", 2, 4, 1, infer_conv2d, create_conv2d};

}  // namespace deployrt
