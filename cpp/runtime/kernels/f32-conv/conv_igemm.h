// conv2d as indirect GEMM on NCHW (kernels/f32-igemm), per image and group:
//   Y[OCg, OH*OW] = W[OCg, K] x B[K, OH*OW],   K = C/groups * KH * KW,
// where B is never materialized. Per call the input is written once into a padded,
// column-deinterleaved workspace: for input channel c and column phase p (one of the
// phases (kw * dilation_w) % stride_w that some tap uses) a plane of rows whose column j
// holds padded input column j * stride_w + p. Then B row k = (c, kh, kw) over NR
// consecutive outputs (oy, ox0 ..) of one output row is the contiguous run at
//   workspace + offsets[k] + oy * row_step * row_floats + ox0,
// with offsets[k] made once here. So a strided 7x7 conv reads each input value from
// ~KH*KW/stride^2 places instead of writing a K x OH*OW im2col matrix per call.
//
// Rows of a plane are either every padded input row the windows cover, or, when the
// windows do not overlap vertically (stride_h past the kernel height, e.g. a strided 1x1)
// and that is smaller, just the KH rows of each output row (row_step = KH).
//
// The A panels are f32_gemm_pack_a's [k][MR] panels of the group's [OCg, K] weights: the
// same bytes as conv_gemm.h's for the same MR and groups. Work items are independent and
// each output is one full-K sum, so the result is the same for any thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernels/epilogue.h"
#include "kernels/f32-conv/conv_gemm.h"
#include "kernels/f32-igemm/igemm.h"
#include "kernels/reference/conv2d_ref.h"

namespace deployrt {

struct ConvIgemmPlan {
  Conv2dShape shape;
  F32IgemmVariant ukernel;
  int64_t k = 0;             // reduction length per group
  int64_t oc_per_group = 0;  // GEMM rows per group
  int64_t m_panels = 0;      // ceil(oc_per_group / MR)
  int64_t col_tiles = 0;     // ceil(OW / NR): tiles per output row
  // Workspace: per input channel, `phases` planes of `plane_rows` rows of `row_floats`.
  int64_t phases = 0, plane_rows = 0, row_floats = 0;
  int64_t row_step = 0;      // plane rows from one output row to the next
  bool compact_rows = false;  // plane row t is padded row (t / KH) * stride_h + (t % KH) * dilation_h
  // k offsets into one group's channels, then the `phases` column phases in plane order.
  std::shared_ptr<const int64_t> tables;

  const int64_t* offsets() const { return tables.get(); }
  const int64_t* phase_values() const { return tables.get() + k; }
  int64_t channel_floats() const { return phases * plane_rows * row_floats; }
  int64_t a_panel_floats() const { return k * ukernel.mr; }
  /// Output rows of one image over all groups: the work items of f32_conv_igemm_rows.
  int64_t row_items() const { return shape.groups * shape.out_height; }
  /// Every channel's planes of one image, plus NR zeroed floats the last rows' tiles read
  /// past their end (igemm.h: B rows are read NR wide).
  size_t workspace_bytes() const {
    return static_cast<size_t>(shape.in_channels * channel_floats() + ukernel.nr) * sizeof(float);
  }
};

/// Floats of the workspace of `shape` (per image) if it took this path with tiles of `nr`
/// columns, or -1 when that overflows int64 (the op only takes the path when it is small).
int64_t f32_conv_igemm_workspace_floats(const Conv2dShape& shape, int nr);

/// The plan of `shape` (dilation, groups, any stride and padding) for `ukernel`. False when
/// the offset tables cannot be allocated.
bool make_conv_igemm_plan(const Conv2dShape& shape, const F32IgemmVariant& ukernel, ConvIgemmPlan* plan);

/// Floats of weight [OC, C/groups, KH, KW] packed into groups * m_panels A panels.
inline size_t f32_conv_igemm_packed_floats(const ConvIgemmPlan& plan) {
  return static_cast<size_t>(plan.shape.groups * plan.m_panels * plan.a_panel_floats());
}
/// Packs A panels [begin, end) (index group * m_panels + m) into `out` (64-byte aligned, of
/// f32_conv_igemm_packed_floats): conv_gemm.h's layout for the same MR and groups.
void f32_conv_igemm_pack_weight_panels(const ConvIgemmPlan& plan, const float* weight, float* out, int64_t begin,
                                       int64_t end);

/// Writes input channels [begin, end) of one image (all groups: channel c of the image)
/// into their workspace planes; the call that ends at the last channel also zeroes the
/// NR floats after them.
void f32_conv_igemm_pack_input(const ConvIgemmPlan& plan, const float* x_image, float* workspace, int64_t begin,
                               int64_t end);

/// Output rows [begin, end) of one image (item = group * OH + oy), every output channel of
/// the group, from packed A and the packed workspace. bias [OC] or null; residual / y the
/// image's [OC, OH, OW] (residual may be null).
void f32_conv_igemm_rows(const ConvIgemmPlan& plan, const float* packed_a, const float* workspace, const float* bias,
                         const float* residual, Activation act, float* y, int64_t begin, int64_t end);

}  // namespace deployrt
