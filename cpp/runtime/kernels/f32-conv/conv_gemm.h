// conv2d as packed GEMM on NCHW, per image and group:
//   Y[OCg, OH*OW] = W[OCg, K] x im2col(X)[K, OH*OW],   K = C/groups * KH * KW.
// Weights are packed once (at create) into the microkernel's A panels; im2col writes the
// B panels into the node's workspace at run time. The op drives the work items below over
// its thread pool; every item is independent, and each output is one full-K sum, so the
// result is the same for any thread count.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/epilogue.h"
#include "kernels/f32-gemm/gemm.h"
#include "kernels/reference/conv2d_ref.h"

namespace deployrt {

struct ConvGemmPlan {
  Conv2dShape shape;
  F32GemmVariant ukernel;
  int64_t k = 0;             // reduction length per group
  int64_t cols = 0;          // OH * OW
  int64_t oc_per_group = 0;  // GEMM rows per group
  int64_t m_panels = 0;      // ceil(oc_per_group / MR)
  int64_t n_panels = 0;      // ceil(cols / NR)
  // A 1x1, stride-1, unpadded convolution: im2col(X) is X itself, so the microkernel reads
  // B straight from the input rows (ldb = cols) and nothing is packed per call.
  bool direct = false;

  int64_t groups_columns() const { return shape.groups * n_panels; }
  int64_t a_panel_floats() const { return k * ukernel.mr; }
  int64_t b_panel_floats() const { return k * ukernel.nr; }
  /// Workspace of the tiles order: every B panel of one image (all groups); none for a
  /// direct plan. (The columns order needs one panel per thread.)
  size_t workspace_bytes() const {
    return direct ? 0 : static_cast<size_t>(shape.groups * n_panels * b_panel_floats()) * sizeof(float);
  }
};

ConvGemmPlan make_conv_gemm_plan(const Conv2dShape& shape, const F32GemmVariant& ukernel);

/// Floats of weight [OC, C/groups, KH, KW] packed into groups * m_panels A panels.
inline size_t f32_conv_gemm_packed_floats(const ConvGemmPlan& plan) {
  return static_cast<size_t>(plan.shape.groups * plan.m_panels * plan.a_panel_floats());
}
/// A panels [begin, end) (index group * m_panels + m) of weight [OC, C/groups, KH, KW] for
/// any conv plan with oc_per_group, k, m_panels and ukernel.mr: the GEMM and the indirect
/// GEMM (conv_igemm.h) pack the same panels.
template <class Plan>
void pack_conv_weight_panels(const Plan& p, const float* weight, float* out, int64_t begin, int64_t end) {
  for (int64_t panel = begin; panel < end; ++panel) {
    const int64_t g = panel / p.m_panels, m = panel % p.m_panels;
    // The group's weights are a row-major [oc_per_group, k] matrix.
    const float* wg = weight + g * p.oc_per_group * p.k;
    f32_gemm_pack_a(wg, p.oc_per_group, p.k, p.k, m * p.ukernel.mr, p.ukernel.mr, out + panel * p.a_panel_floats());
  }
}

/// Packs A panels [begin, end) (index group * m_panels + m) into `out`, a 64-byte aligned
/// buffer of f32_conv_gemm_packed_floats: panels are independent, so a load spreads them
/// over threads.
void f32_conv_gemm_pack_weight_panels(const ConvGemmPlan& plan, const float* weight, float* out, int64_t begin,
                                      int64_t end);

/// B panels [begin, end) of one image; panel index = group * n_panels + n. Not for a
/// direct plan (it has no B panels).
void f32_conv_gemm_pack_b(const ConvGemmPlan& plan, const float* x_image, float* workspace, int64_t begin,
                          int64_t end);

/// The same B panels cut into `parts` pieces each along the channels (one group only:
/// panel rows are channel-major, so a piece is a contiguous run of the panel), piece index
/// = panel * parts + part, [begin, end): a 7x7 output is a single 49-column panel, which
/// f32_conv_gemm_pack_b could only give to one thread.
void f32_conv_gemm_pack_b_pieces(const ConvGemmPlan& plan, int64_t parts, const float* x_image, float* workspace,
                                 int64_t begin, int64_t end);

/// Output tiles [begin, end) of one image, from packed A and the packed B panels in
/// `workspace` (for a direct plan: from the image `x_image` itself). Tile t is (group, m, n)
/// in row-major order over [groups][m_panels][n_panels] (weights-major: an A panel stays in
/// cache across its n tiles). bias [OC] or null; residual/y the image's [OC, OH, OW]
/// (residual may be null).
void f32_conv_gemm_tiles(const ConvGemmPlan& plan, const float* packed_a, const float* x_image, const float* workspace,
                         const float* bias, const float* residual, Activation act, float* y, int64_t begin,
                         int64_t end);

/// Column panels [begin, end) (index group * n_panels + n) of one image, each packed in
/// turn into `slot`, b_panel_floats() of scratch (read in place for a direct plan, `slot`
/// unused), and then multiplied by all of the group's A panels: one pass, for
/// activation-heavy layers where each B panel should stay in cache across the A panels.
/// Ranges run at the same time need distinct slots.
void f32_conv_gemm_columns(const ConvGemmPlan& plan, const float* packed_a, const float* x_image, float* slot,
                           const float* bias, const float* residual, Activation act, float* y, int64_t begin,
                           int64_t end);

}  // namespace deployrt
