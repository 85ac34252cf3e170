// Max-pooling microkernels on NCHW, one plane per call (kernels/reference/pool2d_ref.h
// geometry): y[oh, ow] = max over the taps (kh, kw) whose input
//   ih = oh*stride_h - pad_top + kh*dilation_h,  iw = ow*stride_w - pad_left + kw*dilation_w
// falls inside the plane; padding never wins, a window holding a NaN yields NaN, and a
// window with no input cell at all yields -inf, exactly as f32_max_pool2d_ref. The SIMD
// variants vectorize along the output width (masked tails, masked-off lanes never touch
// memory, so padding needs no padded copy) and take the taps in the reference's (kh, kw)
// order with max(v, acc) = v > acc ? v : acc, so results are bit-identical to it, signed
// zeros included. The op runs one plane per work item, so threads never change results.
#pragma once

#include <cstdint>

#include "cpu/cpu_features.h"
#include "kernels/reference/pool2d_ref.h"

namespace deployrt {

/// x: one input plane [in_height, in_width]; y: one output plane [out_height, out_width].
/// The shape's `planes` field is not read.
using F32MaxPoolUkernel = void (*)(const Pool2dShape& s, const float* x, float* y);

// The one list of variants: X(name, isa). Dispatch and tests expand it.
#define DEPLOYRT_F32_MAXPOOL_PORTABLE(X) X(scalar, kScalar)
#if defined(__x86_64__)
#define DEPLOYRT_F32_MAXPOOL_X86(X) \
  X(avx2, kAvx2)                    \
  X(avx512, kAvx512)
#else
#define DEPLOYRT_F32_MAXPOOL_X86(X)
#endif
#define DEPLOYRT_F32_MAXPOOL_VARIANTS(X) DEPLOYRT_F32_MAXPOOL_PORTABLE(X) DEPLOYRT_F32_MAXPOOL_X86(X)

#define DEPLOYRT_DECLARE_F32_MAXPOOL(name, isa) \
  void f32_max_pool2d_##name(const Pool2dShape& s, const float* x, float* y);
DEPLOYRT_F32_MAXPOOL_VARIANTS(DEPLOYRT_DECLARE_F32_MAXPOOL)
#undef DEPLOYRT_DECLARE_F32_MAXPOOL

struct F32MaxPoolVariant {
  const char* name;
  IsaLevel isa;
  F32MaxPoolUkernel fn;
};

/// Every variant of the list (whether or not this CPU can run it), in list order.
const F32MaxPoolVariant* f32_max_pool2d_variants(int* count);

/// The variant of the highest ISA available at `level`.
const F32MaxPoolVariant& f32_max_pool2d_select(IsaLevel level);

/// Output columns [*lo, *hi) where every tap kw reads inside the input row, with `extra`
/// more columns of slack past the last read (a vector load that over-reads). Empty (lo >= hi)
/// when no column qualifies. In a baseline translation unit so the SIMD files can call it.
void f32_max_pool2d_interior_columns(const Pool2dShape& s, int64_t extra, int64_t* lo, int64_t* hi);

/// Whether the SIMD variants can address this geometry with 32-bit lane offsets within a
/// row (they gather with int32 indices). The op sends shapes that fail it to the scalar
/// variant whatever the ISA.
bool f32_max_pool2d_fits_int32(const Pool2dShape& s);

}  // namespace deployrt
