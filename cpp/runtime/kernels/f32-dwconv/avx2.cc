// AVX2+FMA depthwise kernel (compiled with -mavx2 -mfma for this file only, see
// CMakeLists.txt; called only when isa_level() allows AVX2).
//
// 3x3 windows with dilation 1 and strides 1 or 2 take the specialized blocked path below
// (dwconv_3x3). Every other geometry runs the AVX-512 kernel's generic structure on 8-lane
// ymm vectors: interior columns in blocks of 4 vectors with plain loads (contiguous for
// stride 1, two loads deinterleaved for stride 2, a gather otherwise); columns near the row
// ends and the last partial vector with per-lane masks (vmaskmov / masked gathers never
// touch masked-off lanes' memory).
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

// ---- 3x3, dilation 1, strides 1 and 2: the MobileNet layers ----
//
// The AVX-512 kernel's design on 8 lanes: a block of R output rows x 1 vector keeps R
// accumulators (independent FMA chains) and walks the (R-1)*SH+3 input rows it reads once,
// top to bottom, adding each loaded row to every output row that uses it, so each output
// still sums bias then taps in (kh, kw) order. Input rows outside the plane are skipped
// (as the reference skips their taps); vectors whose columns are all inside the row use
// plain loads and stores, the others vmaskmov with lane masks computed once per block.

// Lanes t in [lo, hi) of an 8-lane vector, as a vmaskmov mask.
inline __m256i lane_range(int64_t lo, int64_t hi) {
  const __m256i l = _mm256_set1_epi32(static_cast<int32_t>(std::max<int64_t>(std::min<int64_t>(lo, kLanes), -1) - 1));
  const __m256i h = _mm256_set1_epi32(static_cast<int32_t>(std::max<int64_t>(std::min<int64_t>(hi, kLanes), -1)));
  return _mm256_and_si256(_mm256_cmpgt_epi32(iota(), l), _mm256_cmpgt_epi32(h, iota()));
}

// Columns [first, first + 2 * 8) of the even/odd split of stride 2 as two 8-lane vectors.
inline void deinterleave(__m256 a, __m256 b, __m256* even, __m256* odd) {
  // [a0 a2 b0 b2 | a4 a6 b4 b6], then reorder the 64-bit pairs to a0 a2 a4 a6 b0 b2 b4 b6.
  const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  const __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
  *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}

// Edge = false: every load reads inside the input row and all 8 outputs are stored.
template <int SH, int SW, int R, bool Edge>
inline void block_3x3(const DwConvPlane& p, const float* x, const __m256* wv, __m256 bias, const float* residual,
                      float* y, int64_t oh, int64_t ow, __m256 lo, __m256 hi) {
  constexpr int kInRows = (R - 1) * SH + 3;
  // Stride 1: tap kw is one load at column offset kw. Stride 2: loads at 0 and 8 give the
  // even (kw = 0) and odd (kw = 1) columns, loads at 2 and 10 the evens shifted by one (kw = 2).
  constexpr int kLoads = SW == 1 ? 3 : 4;
  constexpr int64_t kLoadOffset[4] = {0, SW == 1 ? 1 : 8, 2, 10};
  const int64_t col0 = ow * SW - p.pad_left;  // the input column of lane 0, tap 0
  __m256i mask[kLoads];
  if (Edge) {
#pragma GCC unroll 4
    for (int k = 0; k < kLoads; ++k) {
      const int64_t first = col0 + kLoadOffset[k];
      mask[k] = lane_range(-first, p.in_width - first);
    }
  }
  __m256 acc[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r] = bias;
  const int64_t ih0 = oh * SH - p.pad_top;
#pragma GCC unroll 16
  for (int i = 0; i < kInRows; ++i) {
    const int64_t ih = ih0 + i;
    if (ih < 0 || ih >= p.in_height) continue;
    const int64_t row = ih * p.in_width + col0;
    __m256 ld[kLoads];
#pragma GCC unroll 4
    for (int k = 0; k < kLoads; ++k) {
      ld[k] = Edge ? _mm256_maskload_ps(at(x, row + kLoadOffset[k]), mask[k]) : _mm256_loadu_ps(x + row + kLoadOffset[k]);
    }
    __m256 in[3];
    if (SW == 1) {
      in[0] = ld[0];
      in[1] = ld[1];
      in[2] = ld[2];
    } else {
      __m256 unused;
      deinterleave(ld[0], ld[1], &in[0], &in[1]);
      deinterleave(ld[2], ld[3], &in[2], &unused);
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const int kh = i - r * SH;  // a compile-time constant once unrolled
      if (kh < 0 || kh > 2) continue;
#pragma GCC unroll 3
      for (int kw = 0; kw < 3; ++kw) acc[r] = _mm256_fmadd_ps(wv[kh * 3 + kw], in[kw], acc[r]);
    }
  }
  const __m256i out_mask = lane_range(0, p.out_width - ow);
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    const int64_t at_out = (oh + r) * p.out_width + ow;
    store(acc[r], residual != nullptr ? residual + at_out : nullptr, y + at_out, out_mask, !Edge, lo, hi);
  }
}

// R output rows from oh, one vector at a time.
template <int SH, int SW, int R>
inline void rows_3x3(const DwConvPlane& p, const float* x, const __m256* wv, __m256 bias, const float* residual,
                     float* y, int64_t oh, __m256 lo, __m256 hi) {
  // Vectors from ow read input columns [ow*SW - pad_left, (ow + 8)*SW - pad_left + 2 + (SW - 1) * 2)
  // (stride 2's shifted load ends 2 past its even/odd pair); interior when inside the row.
  const int64_t reach = (kLanes - 1) * SW + 2 + (SW == 2 ? 2 : 0);
  for (int64_t ow = 0; ow < p.out_width; ow += kLanes) {
    const int64_t first = ow * SW - p.pad_left;
    if (first >= 0 && first + reach < p.in_width && ow + kLanes <= p.out_width) {
      block_3x3<SH, SW, R, false>(p, x, wv, bias, residual, y, oh, ow, lo, hi);
    } else {
      block_3x3<SH, SW, R, true>(p, x, wv, bias, residual, y, oh, ow, lo, hi);
    }
  }
}

template <int SH, int SW>
void dwconv_3x3(const DwConvPlane& p, const float* x, const float* w, float bias, const float* residual, float* y) {
  __m256 wv[9];
  for (int k = 0; k < 9; ++k) wv[k] = _mm256_set1_ps(w[k]);
  const __m256 b = _mm256_set1_ps(bias);
  const __m256 lo = _mm256_set1_ps(p.min), hi = _mm256_set1_ps(p.max);
  int64_t oh = 0;
  for (; oh + 4 <= p.out_height; oh += 4) rows_3x3<SH, SW, 4>(p, x, wv, b, residual, y, oh, lo, hi);
  switch (p.out_height - oh) {
    case 3: return rows_3x3<SH, SW, 3>(p, x, wv, b, residual, y, oh, lo, hi);
    case 2: return rows_3x3<SH, SW, 2>(p, x, wv, b, residual, y, oh, lo, hi);
    case 1: return rows_3x3<SH, SW, 1>(p, x, wv, b, residual, y, oh, lo, hi);
    default: return;
  }
}

}  // namespace

void f32_dwconv_avx2(const DwConvPlane& p, const float* x, const float* w, float bias, const float* residual,
                     float* y) {
  if (p.kernel_h == 3 && p.kernel_w == 3 && p.dilation_h == 1 && p.dilation_w == 1) {
    if (p.stride_h == 1 && p.stride_w == 1) return dwconv_3x3<1, 1>(p, x, w, bias, residual, y);
    if (p.stride_h == 2 && p.stride_w == 2) return dwconv_3x3<2, 2>(p, x, w, bias, residual, y);
  }
  if (p.stride_w == 1) return dwconv<1>(p, x, w, bias, residual, y);
  if (p.stride_w == 2) return dwconv<2>(p, x, w, bias, residual, y);
  dwconv<0>(p, x, w, bias, residual, y);
}

}  // namespace deployrt
#endif  // __x86_64__
