// AVX-512 depthwise kernel (compiled with -mavx512f... for this file only, see
// CMakeLists.txt; called only when isa_level() allows AVX-512).
//
// 16 output columns per zmm. Columns whose every tap reads inside the input row (the
// interior, f32_dwconv_interior_columns) run in blocks of 4 vectors with plain loads:
// contiguous for stride 1, two loads with the even lanes kept for stride 2, a gather for
// other strides. The columns near the row ends, and the last partial vector, run one
// vector at a time with per-lane masks: masked-off lanes never touch memory, so padding
// reads zero without a padded copy of the input.
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/f32-dwconv/dwconv.h"
#include "kernels/window2d/avx512.h"

// GCC 12 warns that _mm512_max_ps/_mm512_min_ps read an uninitialized value: its headers
// pass _mm512_undefined_ps() as the unused masked-merge source (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace deployrt {

namespace {

// y = clamp(acc + residual), stored to the lanes of `mask`.
inline void store(__m512 acc, const float* residual, float* out, __mmask16 mask, __m512 lo, __m512 hi) {
  if (residual != nullptr) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(mask, residual));
  // max(lo, y) / min(hi, y) return y when y is NaN: the reference's NaN-keeping clamp.
  _mm512_mask_storeu_ps(out, mask, _mm512_min_ps(hi, _mm512_max_ps(lo, acc)));
}

// NV full vectors starting at output column ow, all inside the interior.
template <int S, int NV>
inline void interior_block(const DwConvPlane& p, const float* x, const float* w, float bias, const float* residual,
                           float* y, int64_t oh, int64_t ow, __m512i gather, __m512 lo, __m512 hi) {
  const int64_t stride = S == 0 ? p.stride_w : S;
  __m512 acc[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) acc[v] = _mm512_set1_ps(bias);
  for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
    const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
    if (ih < 0 || ih >= p.in_height) continue;
    // Inside the interior ow*stride - pad_left >= 0, so this points into the row.
    const float* row = x + ih * p.in_width + ow * stride - p.pad_left;
    const float* wk = w + kh * p.kernel_w;
    for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
      const __m512 wv = _mm512_set1_ps(wk[kw]);
      const float* base = row + kw * p.dilation_w;
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[v] = _mm512_fmadd_ps(wv, load_lanes<S>(base + v * kLanes * stride, gather), acc[v]);
    }
  }
  const int64_t at_out = oh * p.out_width + ow;
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    store(acc[v], residual != nullptr ? residual + at_out + v * kLanes : nullptr, y + at_out + v * kLanes,
          __mmask16(0xFFFF), lo, hi);
  }
}

// One vector of `lanes` (1..16) columns from ow, any of which may read padding.
template <int S>
inline void edge_vector(const DwConvPlane& p, const float* x, const float* w, float bias, const float* residual,
                        float* y, int64_t oh, int64_t ow, int64_t lanes, __m512 lo, __m512 hi) {
  const __mmask16 active = static_cast<__mmask16>((1u << lanes) - 1u);
  const __m512i width = _mm512_set1_epi32(static_cast<int32_t>(p.in_width));
  // Lane t of tap kw reads input column (ow + t) * stride_w + kw * dilation_w - pad_left.
  const __m512i first = lane_columns(ow, p.stride_w, p.pad_left);
  __m512 acc = _mm512_set1_ps(bias);
  for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
    const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
    if (ih < 0 || ih >= p.in_height) continue;
    const float* row = x + ih * p.in_width;
    for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
      const int32_t off = static_cast<int32_t>(kw * p.dilation_w);
      const __m512i idx = _mm512_add_epi32(first, _mm512_set1_epi32(off));
      const __mmask16 valid = lanes_inside(idx, width, active);
      __m512 in;
      if (S == 1) {
        in = _mm512_maskz_loadu_ps(valid, at(row, ow - p.pad_left + off));
      } else {
        in = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), valid, idx, row, 4);
      }
      acc = _mm512_fmadd_ps(_mm512_set1_ps(w[kh * p.kernel_w + kw]), in, acc);
    }
  }
  const int64_t at_out = oh * p.out_width + ow;
  store(acc, residual != nullptr ? residual + at_out : nullptr, y + at_out, active, lo, hi);
}

template <int S>
void dwconv(const DwConvPlane& p, const float* x, const float* w, float bias, const float* residual, float* y) {
  int64_t lo_col = 0, hi_col = 0;
  // Stride 2 loads 2 * 16 inputs per vector, one past the last one it keeps.
  f32_dwconv_interior_columns(p, S == 2 ? 1 : 0, &lo_col, &hi_col);
  const __m512 lo = _mm512_set1_ps(p.min), hi = _mm512_set1_ps(p.max);
  const __m512i gather = lane_offsets(p.stride_w);
  for (int64_t oh = 0; oh < p.out_height; ++oh) {
    int64_t ow = 0;
    while (ow < p.out_width) {
      if (ow >= lo_col && ow + 4 * kLanes <= hi_col) {
        interior_block<S, 4>(p, x, w, bias, residual, y, oh, ow, gather, lo, hi);
        ow += 4 * kLanes;
      } else if (ow >= lo_col && ow + kLanes <= hi_col) {
        interior_block<S, 1>(p, x, w, bias, residual, y, oh, ow, gather, lo, hi);
        ow += kLanes;
      } else {
        const int64_t lanes = std::min<int64_t>(kLanes, p.out_width - ow);
        edge_vector<S>(p, x, w, bias, residual, y, oh, ow, lanes, lo, hi);
        ow += lanes;
      }
    }
  }
}

}  // namespace

void f32_dwconv_avx512(const DwConvPlane& p, const float* x, const float* w, float bias, const float* residual,
                       float* y) {
  if (p.stride_w == 1) return dwconv<1>(p, x, w, bias, residual, y);
  if (p.stride_w == 2) return dwconv<2>(p, x, w, bias, residual, y);
  dwconv<0>(p, x, w, bias, residual, y);
}

}  // namespace deployrt
#endif  // __x86_64__
