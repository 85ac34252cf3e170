// Depthwise convolution microkernels on NCHW, one output plane per call:
//   y[oh, ow] = clamp(bias + sum_{kh, kw} w[kh, kw] * x[ih, iw] + residual[oh, ow], min, max)
// with ih = oh*stride_h - pad_top + kh*dilation_h (likewise iw) and zero padding. A
// depthwise conv2d (groups == C, any channel multiplier) is one such plane per (n, oc),
// reading input plane oc / multiplier and the oc's [KH, KW] weights in place, so nothing
// is packed. The SIMD variants vectorize along the output width (masked tails), with a
// specialized path for 3x3 / dilation 1 / stride 1 or 2 that computes blocks of several
// output rows at once (see avx512.cc); every output is accumulated as bias then taps in
// (kh, kw) order within one lane, so results never depend on how planes are split over
// threads.
#pragma once

#include <cstdint>

#include "cpu/cpu_features.h"
#include "kernels/epilogue.h"
#include "kernels/reference/conv2d_ref.h"

namespace deployrt {

struct DwConvPlane {
  int64_t in_height = 0, in_width = 0, out_height = 0, out_width = 0;
  int64_t kernel_h = 0, kernel_w = 0;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  float min = 0.0f, max = 0.0f;  // the fused clamp (kernels/epilogue.h semantics)
};

/// x: one input plane [in_height, in_width]; w: [kernel_h, kernel_w]; residual: one output
/// plane or null; y: the output plane [out_height, out_width].
using F32DwConvUkernel = void (*)(const DwConvPlane& p, const float* x, const float* w, float bias,
                                  const float* residual, float* y);

// The one list of variants: X(name, isa). Dispatch and tests expand it.
#define DEPLOYRT_F32_DWCONV_PORTABLE(X) X(scalar, kScalar)
#if defined(__x86_64__)
#define DEPLOYRT_F32_DWCONV_X86(X) \
  X(avx2, kAvx2)                   \
  X(avx512, kAvx512)
#else
#define DEPLOYRT_F32_DWCONV_X86(X)
#endif
#define DEPLOYRT_F32_DWCONV_VARIANTS(X) DEPLOYRT_F32_DWCONV_PORTABLE(X) DEPLOYRT_F32_DWCONV_X86(X)

#define DEPLOYRT_DECLARE_F32_DWCONV(name, isa)                                                     \
  void f32_dwconv_##name(const DwConvPlane& p, const float* x, const float* w, float bias, \
                         const float* residual, float* y);
DEPLOYRT_F32_DWCONV_VARIANTS(DEPLOYRT_DECLARE_F32_DWCONV)
#undef DEPLOYRT_DECLARE_F32_DWCONV

struct F32DwConvVariant {
  const char* name;
  IsaLevel isa;
  F32DwConvUkernel fn;
};

/// Every variant of the list (whether or not this CPU can run it), in list order.
const F32DwConvVariant* f32_dwconv_variants(int* count);

/// The variant of the highest ISA available at `level`.
const F32DwConvVariant& f32_dwconv_select(IsaLevel level);

/// Output columns [*lo, *hi) where every tap kw reads inside the input row, with `extra`
/// more columns of slack past the last read (a vector load that over-reads). Empty (lo >= hi)
/// when no column qualifies. Lives in a baseline translation unit so SIMD files can call it.
void f32_dwconv_interior_columns(const DwConvPlane& p, int64_t extra, int64_t* lo, int64_t* hi);

/// Whether the SIMD variants can index this geometry with 32-bit lane offsets (they gather
/// with int32 indices). The op sends shapes that fail it (planes over 2^30 elements) to the
/// reference kernel whatever the ISA, so every variant sees the same shapes.
bool f32_dwconv_fits_int32(const DwConvPlane& p);

/// The geometry of one depthwise plane of a conv2d node, with its clamp bounds.
DwConvPlane dwconv_plane_of(const Conv2dShape& shape, Activation act);

}  // namespace deployrt
