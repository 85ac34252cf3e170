// AVX-512 depthwise kernel (compiled with -mavx512f... for this file only, see
// CMakeLists.txt; called only when isa_level() allows AVX-512).
//
// 3x3 windows with dilation 1 and strides 1 or 2 (every depthwise layer of MobileNetV2)
// take the specialized blocked path below (dwconv_3x3). Every other geometry runs the
// generic path: 16 output columns per zmm, one output row at a time. Columns whose every tap reads inside the input row (the
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
// pass _mm512_undefined_ps() as the unused masked-merge source (a known false positive;
// reported as -Wuninitialized where the clamp is inlined into the 3x3 blocks).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

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

// ---- 3x3, dilation 1, strides 1 and 2: the MobileNet layers ----
//
// A block of R output rows x NV vectors (R <= 4, NV <= 2; R <= 8 and NV = 1 for planes at
// most 16 outputs wide) keeps R*NV accumulators (independent FMA chains) and the 9 weights
// in registers. It walks the (R-1)*SH+3 input rows the block reads once,
// top to bottom, adding each loaded row to every output row that uses it, so each output
// still sums bias then taps in (kh, kw) order. Padding costs nothing inside the loop: input
// rows outside the plane are skipped (as the reference skips their taps) and columns outside
// the row are masked-off lanes of the loads (they read zero and never touch memory), with the
// masks computed once per block. A row's last 1..8 columns run on 8-lane ymm vectors (AVX512VL
// masking), so a 7- or 56-wide row wastes no FMA lanes on a half-empty zmm.

// The 16-lane (zmm) and 8-lane (ymm) forms of the operations the 3x3 blocks use.
struct Zmm {
  using V = __m512;
  using M = __mmask16;
  static constexpr int kN = 16;
  static V set1(float v) { return _mm512_set1_ps(v); }
  static V load(M m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, M m, V v) { _mm512_mask_storeu_ps(p, m, v); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  // max(lo, y) / min(hi, y) return y when y is NaN: the reference's NaN-keeping clamp.
  static V clamp(V v, V lo, V hi) { return _mm512_min_ps(hi, _mm512_max_ps(lo, v)); }
  // Even / odd lanes of the 32 columns [a, b].
  static V even(V a, V b) {
    return _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b);
  }
  static V odd(V a, V b) {
    return _mm512_permutex2var_ps(a, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), b);
  }
};

struct Ymm {
  using V = __m256;
  using M = __mmask8;
  static constexpr int kN = 8;
  static V set1(float v) { return _mm256_set1_ps(v); }
  static V load(M m, const float* p) { return _mm256_maskz_loadu_ps(m, p); }
  static void store(float* p, M m, V v) { _mm256_mask_storeu_ps(p, m, v); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V clamp(V v, V lo, V hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, v)); }
  static V even(V a, V b) { return _mm256_permutex2var_ps(a, _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14), b); }
  static V odd(V a, V b) { return _mm256_permutex2var_ps(a, _mm256_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15), b); }
};

// Lanes t in [lo, hi) of an N-lane vector.
template <class T>
inline typename T::M lane_range(int64_t lo, int64_t hi) {
  lo = std::max<int64_t>(lo, 0);
  hi = std::min<int64_t>(hi, T::kN);
  if (lo >= hi) return 0;
  return static_cast<typename T::M>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

// The weights and the bias of the plane: broadcast from memory in each block (a load
// each), which costs less than keeping broadcast copies for planes of one or two blocks.
struct Consts3x3 {
  const float* w;
  float bias;
};

template <class T, int SH, int SW, int R, int NV>
inline void block_3x3(const DwConvPlane& p, const float* x, const Consts3x3& k, const float* residual, float* y,
                      int64_t oh, int64_t ow) {
  using V = typename T::V;
  constexpr int N = T::kN;
  constexpr int kInRows = (R - 1) * SH + 3;
  // Stride 1: tap kw is one load at column offset kw. Stride 2: loads at 0 and N give the
  // even (kw = 0) and odd (kw = 1) columns, loads at 2 and N + 2 the evens shifted by one (kw = 2).
  constexpr int kLoads = SW == 1 ? 3 : 4;
  constexpr int64_t kLoadOffset[4] = {0, SW == 1 ? 1 : N, 2, N + 2};
  const int64_t col0 = ow * SW - p.pad_left;  // the input column of lane 0, tap 0
  typename T::M mask[NV][kLoads];
#pragma GCC unroll 2
  for (int v = 0; v < NV; ++v) {
#pragma GCC unroll 4
    for (int j = 0; j < kLoads; ++j) {
      const int64_t first = col0 + v * N * SW + kLoadOffset[j];
      mask[v][j] = lane_range<T>(-first, p.in_width - first);
    }
  }
  V w[9];
#pragma GCC unroll 9
  for (int j = 0; j < 9; ++j) w[j] = T::set1(k.w[j]);
  V acc[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[r][v] = T::set1(k.bias);
  }
  const int64_t ih0 = oh * SH - p.pad_top;
#pragma GCC unroll 20
  for (int i = 0; i < kInRows; ++i) {
    const int64_t ih = ih0 + i;
    if (ih < 0 || ih >= p.in_height) continue;
    const int64_t row = ih * p.in_width + col0;
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const int64_t at_v = row + v * N * SW;
      V in[3];
      if (SW == 1) {
#pragma GCC unroll 3
        for (int kw = 0; kw < 3; ++kw) in[kw] = T::load(mask[v][kw], at(x, at_v + kw));
      } else {
        const V a = T::load(mask[v][0], at(x, at_v));
        const V b = T::load(mask[v][1], at(x, at_v + N));
        in[0] = T::even(a, b);
        in[1] = T::odd(a, b);
        in[2] = T::even(T::load(mask[v][2], at(x, at_v + 2)), T::load(mask[v][3], at(x, at_v + N + 2)));
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const int kh = i - r * SH;  // a compile-time constant once unrolled
        if (kh < 0 || kh > 2) continue;
#pragma GCC unroll 3
        for (int kw = 0; kw < 3; ++kw) acc[r][v] = T::fmadd(w[kh * 3 + kw], in[kw], acc[r][v]);
      }
    }
  }
  const V lo = T::set1(p.min), hi = T::set1(p.max);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const int64_t col = ow + v * N;
      const int64_t at_out = (oh + r) * p.out_width + col;
      const typename T::M out_mask = lane_range<T>(0, p.out_width - col);
      V out = acc[r][v];
      if (residual != nullptr) out = T::add(out, T::load(out_mask, residual + at_out));
      T::store(y + at_out, out_mask, T::clamp(out, lo, hi));
    }
  }
}

// R output rows from oh: pairs of zmm vectors while more than 24 columns remain, then one
// zmm for more than 8, then one ymm for the last 1..8.
template <int SH, int SW, int R>
inline void rows_3x3(const DwConvPlane& p, const float* x, const Consts3x3& k, const float* residual, float* y,
                     int64_t oh) {
  int64_t ow = 0;
  for (; p.out_width - ow > 24; ow += 32) block_3x3<Zmm, SH, SW, R, 2>(p, x, k, residual, y, oh, ow);
  if (p.out_width - ow > 8) {
    block_3x3<Zmm, SH, SW, R, 1>(p, x, k, residual, y, oh, ow);
    ow += 16;
  }
  if (p.out_width - ow > 0) block_3x3<Ymm, SH, SW, R, 1>(p, x, k, residual, y, oh, ow);
}

// R output rows from oh of a plane at most 16 columns wide: one vector per row.
template <int SH, int SW, int R>
inline void narrow_rows_3x3(const DwConvPlane& p, const float* x, const Consts3x3& k, const float* residual,
                            float* y, int64_t oh) {
  if (p.out_width > 8) return block_3x3<Zmm, SH, SW, R, 1>(p, x, k, residual, y, oh, 0);
  block_3x3<Ymm, SH, SW, R, 1>(p, x, k, residual, y, oh, 0);
}

template <int SH, int SW>
void dwconv_3x3(const DwConvPlane& p, const float* x, const float* w, float bias, const float* residual, float* y) {
  const Consts3x3 k{w, bias};
  if (p.out_width <= 16) {
    // Narrow planes (7x7, 14x14) are short too: blocks of up to 8 rows (one per 8 output
    // rows, sizes within one of each other) re-read fewer halo rows and pay the per-block
    // set-up less often than blocks of 4; one vector per row leaves registers for 8 chains.
    const int64_t blocks = (p.out_height + 7) / 8;
    int64_t oh = 0;
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t rows = p.out_height / blocks + (b < p.out_height % blocks ? 1 : 0);
      switch (rows) {
        case 8: narrow_rows_3x3<SH, SW, 8>(p, x, k, residual, y, oh); break;
        case 7: narrow_rows_3x3<SH, SW, 7>(p, x, k, residual, y, oh); break;
        case 6: narrow_rows_3x3<SH, SW, 6>(p, x, k, residual, y, oh); break;
        case 5: narrow_rows_3x3<SH, SW, 5>(p, x, k, residual, y, oh); break;
        case 4: narrow_rows_3x3<SH, SW, 4>(p, x, k, residual, y, oh); break;
        case 3: narrow_rows_3x3<SH, SW, 3>(p, x, k, residual, y, oh); break;
        case 2: narrow_rows_3x3<SH, SW, 2>(p, x, k, residual, y, oh); break;
        default: narrow_rows_3x3<SH, SW, 1>(p, x, k, residual, y, oh); break;
      }
      oh += rows;
    }
    return;
  }
  int64_t oh = 0;
  for (; oh + 4 <= p.out_height; oh += 4) rows_3x3<SH, SW, 4>(p, x, k, residual, y, oh);
  switch (p.out_height - oh) {
    case 3: return rows_3x3<SH, SW, 3>(p, x, k, residual, y, oh);
    case 2: return rows_3x3<SH, SW, 2>(p, x, k, residual, y, oh);
    case 1: return rows_3x3<SH, SW, 1>(p, x, k, residual, y, oh);
    default: return;
  }
}

}  // namespace

void f32_dwconv_avx512(const DwConvPlane& p, const float* x, const float* w, float bias, const float* residual,
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
