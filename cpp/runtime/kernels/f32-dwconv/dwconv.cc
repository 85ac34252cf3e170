#include "kernels/f32-dwconv/dwconv.h"

#include <algorithm>

#include "kernels/variant_table.h"
#include "kernels/window2d/columns.h"

namespace deployrt {

const F32DwConvVariant* f32_dwconv_variants(int* count) {
#define DEPLOYRT_F32_DWCONV_ENTRY(name, isa) {#name, IsaLevel::isa, f32_dwconv_##name},
  static const F32DwConvVariant kVariants[] = {DEPLOYRT_F32_DWCONV_VARIANTS(DEPLOYRT_F32_DWCONV_ENTRY)};
#undef DEPLOYRT_F32_DWCONV_ENTRY
  return variant_list(kVariants, count);
}

const F32DwConvVariant& f32_dwconv_select(IsaLevel level) { return select_variant(f32_dwconv_variants, level); }

void f32_dwconv_interior_columns(const DwConvPlane& p, int64_t extra, int64_t* lo, int64_t* hi) {
  // Tap kw reads iw = ow*stride_w + off with off = kw*dilation_w - pad_left.
  window_columns_inside(-p.pad_left, (p.kernel_w - 1) * p.dilation_w - p.pad_left + extra, p.stride_w,
                        p.in_width, p.out_width, lo, hi);
}

bool f32_dwconv_fits_int32(const DwConvPlane& p) {
  // Lane offsets within an input row reach (out_width + 16) * stride_w + kernel reach,
  // and row offsets in_height * in_width; keep both well inside int32.
  constexpr int64_t kLimit = int64_t{1} << 30;
  const int64_t reach_w = p.dilation_w * p.kernel_w + p.pad_left;
  if (p.out_width + 16 > kLimit / std::max<int64_t>(p.stride_w, 1)) return false;
  if ((p.out_width + 16) * p.stride_w + reach_w > kLimit) return false;
  return p.in_width < kLimit && p.in_height < kLimit / std::max<int64_t>(p.in_width, 1);
}

DwConvPlane dwconv_plane_of(const Conv2dShape& s, Activation act) {
  DwConvPlane p;
  p.in_height = s.in_height;
  p.in_width = s.in_width;
  p.out_height = s.out_height;
  p.out_width = s.out_width;
  p.kernel_h = s.kernel_h;
  p.kernel_w = s.kernel_w;
  p.stride_h = s.stride_h;
  p.stride_w = s.stride_w;
  p.pad_top = s.pad_top;
  p.pad_left = s.pad_left;
  p.dilation_h = s.dilation_h;
  p.dilation_w = s.dilation_w;
  p.min = act.min;
  p.max = act.max;
  return p;
}

}  // namespace deployrt
