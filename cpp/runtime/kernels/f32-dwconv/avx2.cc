// AVX2+FMA depthwise kernel (compiled with -mavx2 -mfma for this file only, see
// CMakeLists.txt; called only when isa_level() allows AVX2).
//
// The AVX-512 kernel's structure on 8-lane ymm vectors: interior columns in blocks of 4
// vectors with plain loads (contiguous for stride 1, two loads deinterleaved for stride 2,
// a gather otherwise); columns near the row ends and the last partial vector with per-lane
// masks (vmaskmov / masked gathers never touch masked-off lanes' memory).
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/f32-dwconv/dwconv.h"
#include "kernels/window2d/avx2.h"

namespace deployrt {

namespace {


// y = clamp(acc + residual) to the lanes of `mask` (all ones: a plain store).
inline void store(__m256 acc, const float* residual, float* out, __m256i mask, bool full, __m256 lo, __m256 hi) {
  if (full) {
    if (residual != nullptr) acc = _mm256_add_ps(acc, _mm256_loadu_ps(residual));
    // max(lo, y) / min(hi, y) return y when y is NaN: the reference's NaN-keeping clamp.
    _mm256_storeu_ps(out, _mm256_min_ps(hi, _mm256_max_ps(lo, acc)));
    return;
  }
  if (residual != nullptr) acc = _mm256_add_ps(acc, _mm256_maskload_ps(residual, mask));
  _mm256_maskstore_ps(out, mask, _mm256_min_ps(hi, _mm256_max_ps(lo, acc)));
}

template <int S, int NV>
inline void interior_block(const DwConvPlane& p, const float* x, const float* w, float bias, const float* residual,
                           float* y, int64_t oh, int64_t ow, __m256i gather, __m256 lo, __m256 hi) {
  const int64_t stride = S == 0 ? p.stride_w : S;
  __m256 acc[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) acc[v] = _mm256_set1_ps(bias);
  for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
    const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
    if (ih < 0 || ih >= p.in_height) continue;
    // Inside the interior ow*stride - pad_left >= 0, so this points into the row.
    const float* row = x + ih * p.in_width + ow * stride - p.pad_left;
    const float* wk = w + kh * p.kernel_w;
    for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
      const __m256 wv = _mm256_broadcast_ss(wk + kw);
      const float* base = row + kw * p.dilation_w;
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[v] = _mm256_fmadd_ps(wv, load_lanes<S>(base + v * kLanes * stride, gather), acc[v]);
    }
  }
  const int64_t at_out = oh * p.out_width + ow;
  const __m256i all = _mm256_set1_epi32(-1);
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    store(acc[v], residual != nullptr ? residual + at_out + v * kLanes : nullptr, y + at_out + v * kLanes, all,
          true, lo, hi);
  }
}

template <int S>
inline void edge_vector(const DwConvPlane& p, const float* x, const float* w, float bias, const float* residual,
                        float* y, int64_t oh, int64_t ow, int64_t lanes, __m256 lo, __m256 hi) {
  const __m256i active = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(lanes)), iota());
  const __m256i width = _mm256_set1_epi32(static_cast<int32_t>(p.in_width));
  // Lane t of tap kw reads input column (ow + t) * stride_w + kw * dilation_w - pad_left.
  const __m256i first = lane_columns(ow, p.stride_w, p.pad_left);
  __m256 acc = _mm256_set1_ps(bias);
  for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
    const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
    if (ih < 0 || ih >= p.in_height) continue;
    const float* row = x + ih * p.in_width;
    for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
      const int32_t off = static_cast<int32_t>(kw * p.dilation_w);
      const __m256i idx = _mm256_add_epi32(first, _mm256_set1_epi32(off));
      const __m256i valid = lanes_inside(idx, width, active);
      __m256 in;
      if (S == 1) {
        in = _mm256_maskload_ps(at(row, ow - p.pad_left + off), valid);
      } else {
        in = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), row, idx, _mm256_castsi256_ps(valid), 4);
      }
      acc = _mm256_fmadd_ps(_mm256_broadcast_ss(w + kh * p.kernel_w + kw), in, acc);
    }
  }
  const int64_t at_out = oh * p.out_width + ow;
  store(acc, residual != nullptr ? residual + at_out : nullptr, y + at_out, active, lanes == kLanes, lo, hi);
}

template <int S>
void dwconv(const DwConvPlane& p, const float* x, const float* w, float bias, const float* residual, float* y) {
  int64_t lo_col = 0, hi_col = 0;
  // Stride 2 loads 2 * 8 inputs per vector, one past the last one it keeps.
  f32_dwconv_interior_columns(p, S == 2 ? 1 : 0, &lo_col, &hi_col);
  const __m256 lo = _mm256_set1_ps(p.min), hi = _mm256_set1_ps(p.max);
  const __m256i gather = lane_offsets(p.stride_w);
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

void f32_dwconv_avx2(const DwConvPlane& p, const float* x, const float* w, float bias, const float* residual,
                     float* y) {
  if (p.stride_w == 1) return dwconv<1>(p, x, w, bias, residual, y);
  if (p.stride_w == 2) return dwconv<2>(p, x, w, bias, residual, y);
  dwconv<0>(p, x, w, bias, residual, y);
}

}  // namespace deployrt
#endif  // __x86_64__
