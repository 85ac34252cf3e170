#include "kernels/f32-conv/conv_gemm.h"

#include <algorithm>

#include "kernels/f32-conv/im2col.h"

namespace deployrt {

ConvGemmPlan make_conv_gemm_plan(const Conv2dShape& s, const F32GemmVariant& ukernel) {
  ConvGemmPlan p;
  p.shape = s;
  p.ukernel = ukernel;
  p.k = s.in_channels / s.groups * s.kernel_h * s.kernel_w;
  p.cols = s.out_height * s.out_width;
  p.oc_per_group = s.out_channels / s.groups;
  p.m_panels = (p.oc_per_group + ukernel.mr - 1) / ukernel.mr;
  p.n_panels = (p.cols + ukernel.nr - 1) / ukernel.nr;
  // Packing B costs a pass over the input, repaid by every m panel that reads the packed
  // copy: with few output rows (MobileNetV2's projections, 24..96 channels) reading the
  // input in place measured up to 1.4x faster; with many, the packed panel wins. So does
  // a long reduction over rows a page or more apart: each k step of a tile then touches a
  // new page (ResNet-50's 256->64 at 56x56: packed 1.06-1.26 ms vs in place 1.34-1.67 ms,
  // four interleaved microbenchmark runs; MobileNetV2's K = 96/144 at 56x56 stay faster
  // in place).
  constexpr int64_t kMaxDirectPanels = 8;
  constexpr int64_t kMaxDirectKFarRows = 192;
  const bool rows_far_apart = p.cols * static_cast<int64_t>(sizeof(float)) >= 4096;
  p.direct = s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 &&
             s.pad_left == 0 && s.out_height == s.in_height && s.out_width == s.in_width &&
             p.m_panels <= kMaxDirectPanels && (!rows_far_apart || p.k <= kMaxDirectKFarRows);
  return p;
}

void f32_conv_gemm_pack_weight_panels(const ConvGemmPlan& p, const float* weight, float* out, int64_t begin,
                                      int64_t end) {
  pack_conv_weight_panels(p, weight, out, begin, end);
}

namespace {

const float* x_group_of(const ConvGemmPlan& p, const float* x_image, int64_t g) {
  const Conv2dShape& s = p.shape;
  return x_image + g * (s.in_channels / s.groups) * s.in_height * s.in_width;
}

// B of tile column n of group g: its packed panel in `workspace`, or for a direct plan the
// input rows themselves, starting at the tile's first column.
const float* b_of(const ConvGemmPlan& p, const float* x_image, const float* workspace, int64_t g, int64_t n) {
  if (p.direct) return x_group_of(p, x_image, g) + n * p.ukernel.nr;
  return workspace + (g * p.n_panels + n) * p.b_panel_floats();
}

// One MR x NR output tile of group g.
void run_tile(const ConvGemmPlan& p, const float* packed_a, const float* b, const float* bias, const float* residual,
              Activation act, float* y, int64_t g, int64_t m, int64_t n) {
  const int64_t row0 = g * p.oc_per_group + m * p.ukernel.mr;
  const int64_t col0 = n * p.ukernel.nr;
  const int64_t mr = std::min<int64_t>(p.ukernel.mr, p.oc_per_group - m * p.ukernel.mr);
  const int64_t nr = std::min<int64_t>(p.ukernel.nr, p.cols - col0);
  GemmEpilogue ep;
  ep.bias = bias != nullptr ? bias + row0 : nullptr;
  ep.residual = residual != nullptr ? residual + row0 * p.cols + col0 : nullptr;
  ep.min = act.min;
  ep.max = act.max;
  p.ukernel.fn(p.k, packed_a + (g * p.m_panels + m) * p.a_panel_floats(), b, p.direct ? p.cols : p.ukernel.nr,
               y + row0 * p.cols + col0, p.cols, mr, nr, ep);
}

}  // namespace

void f32_conv_gemm_pack_b(const ConvGemmPlan& p, const float* x_image, float* workspace, int64_t begin,
                          int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const int64_t g = i / p.n_panels, n = i % p.n_panels;
    f32_im2col_panel(p.shape, x_group_of(p, x_image, g), n * p.ukernel.nr, p.ukernel.nr,
                     workspace + i * p.b_panel_floats());
  }
}

void f32_conv_gemm_pack_b_pieces(const ConvGemmPlan& p, int64_t parts, const float* x_image, float* workspace,
                                 int64_t begin, int64_t end) {
  const Conv2dShape& s = p.shape;
  const int64_t plane = s.in_height * s.in_width, rows_per_channel = s.kernel_h * s.kernel_w;
  for (int64_t i = begin; i < end; ++i) {
    const int64_t panel = i / parts, part = i % parts;
    const int64_t c0 = part * s.in_channels / parts, c1 = (part + 1) * s.in_channels / parts;
    Conv2dShape piece = s;  // the channels [c0, c1) of the image
    piece.in_channels = c1 - c0;
    f32_im2col_panel(piece, x_image + c0 * plane, panel * p.ukernel.nr, p.ukernel.nr,
                     workspace + panel * p.b_panel_floats() + c0 * rows_per_channel * p.ukernel.nr);
  }
}

void f32_conv_gemm_tiles(const ConvGemmPlan& p, const float* packed_a, const float* x_image, const float* workspace,
                         const float* bias, const float* residual, Activation act, float* y, int64_t begin,
                         int64_t end) {
  for (int64_t t = begin; t < end; ++t) {
    const int64_t n = t % p.n_panels;
    const int64_t gm = t / p.n_panels;
    const int64_t g = gm / p.m_panels, m = gm % p.m_panels;
    run_tile(p, packed_a, b_of(p, x_image, workspace, g, n), bias, residual, act, y, g, m, n);
  }
}

void f32_conv_gemm_columns(const ConvGemmPlan& p, const float* packed_a, const float* x_image, float* slot,
                           const float* bias, const float* residual, Activation act, float* y, int64_t begin,
                           int64_t end) {
  // Every panel of the range is packed into the one slot: a panel is consumed before the
  // next is packed, and one slot stays in L1/L2 where a fresh slot per panel streamed the
  // whole workspace (the size of the input) through the caches.
  for (int64_t i = begin; i < end; ++i) {
    const int64_t g = i / p.n_panels, n = i % p.n_panels;
    if (!p.direct) f32_im2col_panel(p.shape, x_group_of(p, x_image, g), n * p.ukernel.nr, p.ukernel.nr, slot);
    const float* b = p.direct ? b_of(p, x_image, slot, g, n) : slot;
    for (int64_t m = 0; m < p.m_panels; ++m) run_tile(p, packed_a, b, bias, residual, act, y, g, m, n);
  }
}

}  // namespace deployrt
