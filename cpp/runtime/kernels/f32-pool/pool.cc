#include "kernels/f32-pool/pool.h"

#include "kernels/variant_table.h"
#include "kernels/window2d/columns.h"

namespace deployrt {

const F32MaxPoolVariant* f32_max_pool2d_variants(int* count) {
#define DEPLOYRT_F32_MAXPOOL_ENTRY(name, isa) {#name, IsaLevel::isa, f32_max_pool2d_##name},
  static const F32MaxPoolVariant kVariants[] = {DEPLOYRT_F32_MAXPOOL_VARIANTS(DEPLOYRT_F32_MAXPOOL_ENTRY)};
#undef DEPLOYRT_F32_MAXPOOL_ENTRY
  return variant_list(kVariants, count);
}

const F32MaxPoolVariant& f32_max_pool2d_select(IsaLevel level) {
  return select_variant(f32_max_pool2d_variants, level);
}

void f32_max_pool2d_interior_columns(const Pool2dShape& s, int64_t extra, int64_t* lo, int64_t* hi) {
  // Tap kw reads iw = ow*stride_w + off with off = kw*dilation_w - pad_left.
  window_columns_inside(-s.pad_left, (s.kernel_w - 1) * s.dilation_w - s.pad_left + extra, s.stride_w,
                        s.in_width, s.out_width, lo, hi);
}

bool f32_max_pool2d_fits_int32(const Pool2dShape& s) {
  // Lane offsets within a row reach (out_width + 16) * stride_w plus the window's reach
  // (and the pads below zero); keep them well inside int32.
  constexpr int64_t kLimit = int64_t{1} << 30;
  if (s.stride_w < 1 || s.dilation_w < 1 || s.kernel_w < 1) return false;
  if (s.out_width + 16 > kLimit / s.stride_w) return false;
  if (s.kernel_w > kLimit / s.dilation_w) return false;
  if (s.pad_left > kLimit || s.in_width > kLimit) return false;
  return (s.out_width + 16) * s.stride_w + s.kernel_w * s.dilation_w + s.pad_left <= kLimit;
}

}  // namespace deployrt
