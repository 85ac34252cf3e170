// AVX-512 max-pool kernel (compiled with -mavx512f... for this file only, see
// CMakeLists.txt; called only when isa_level() allows AVX-512).
//
// 16 output columns per zmm. Columns whose every tap reads inside the input row (the
// interior, f32_max_pool2d_interior_columns) run in blocks of 4 vectors with plain loads:
// contiguous for stride 1, two loads with the even lanes kept for stride 2, a gather for
// other strides. The columns near the row ends, and the last partial vector, run one
// vector at a time with per-lane masks: masked-off lanes read -inf and never touch memory.
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "kernels/f32-pool/pool.h"
#include "kernels/window2d/avx512.h"

// GCC 12 warns that _mm512_max_ps reads an uninitialized value: its headers pass
// _mm512_undefined_ps() as the unused masked-merge source (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace deployrt {

namespace {

inline __m512 neg_inf() { return _mm512_set1_ps(-std::numeric_limits<float>::infinity()); }

// acc = v > acc ? v : acc (vmaxps returns its second operand on NaN and on equal values,
// so a NaN v leaves acc alone and ties keep the earlier tap, as the reference does); the
// NaN lanes are remembered in `nan` and win at the end.
inline void update(__m512 v, __m512& acc, __mmask16& nan) {
  acc = _mm512_max_ps(v, acc);
  nan = static_cast<__mmask16>(nan | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
}

inline __m512 result(__m512 acc, __mmask16 nan) {
  return _mm512_mask_mov_ps(acc, nan, _mm512_set1_ps(std::numeric_limits<float>::quiet_NaN()));
}

// NV full vectors starting at output column ow, all inside the interior.
template <int S, int NV>
inline void interior_block(const Pool2dShape& s, const float* x, float* y, int64_t oh, int64_t ow, __m512i gather) {
  const int64_t stride = S == 0 ? s.stride_w : S;
  __m512 acc[NV];
  __mmask16 nan[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    acc[v] = neg_inf();
    nan[v] = 0;
  }
  for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
    const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
    if (ih < 0 || ih >= s.in_height) continue;
    // Inside the interior ow*stride - pad_left >= 0, so this points into the row.
    const float* row = x + ih * s.in_width + ow * stride - s.pad_left;
    for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
      const float* base = row + kw * s.dilation_w;
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) update(load_lanes<S>(base + v * kLanes * stride, gather), acc[v], nan[v]);
    }
  }
  float* out = y + oh * s.out_width + ow;
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) _mm512_storeu_ps(out + v * kLanes, result(acc[v], nan[v]));
}

// `lanes` (1..16) output columns from ow, any of whose taps may fall outside the row.
template <int S>
inline void edge_vector(const Pool2dShape& s, const float* x, float* y, int64_t oh, int64_t ow, int64_t lanes) {
  const __mmask16 active = static_cast<__mmask16>((1u << lanes) - 1u);
  const __m512i width = _mm512_set1_epi32(static_cast<int32_t>(s.in_width));
  // Lane t of tap kw reads input column (ow + t) * stride_w + kw * dilation_w - pad_left.
  const __m512i first = lane_columns(ow, s.stride_w, s.pad_left);
  __m512 acc = neg_inf();
  __mmask16 nan = 0;
  for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
    const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
    if (ih < 0 || ih >= s.in_height) continue;
    const float* row = x + ih * s.in_width;
    for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
      const int32_t off = static_cast<int32_t>(kw * s.dilation_w);
      const __m512i idx = _mm512_add_epi32(first, _mm512_set1_epi32(off));
      const __mmask16 valid = lanes_inside(idx, width, active);
      const __m512 in = S == 1 ? _mm512_mask_loadu_ps(neg_inf(), valid, at(row, ow - s.pad_left + off))
                               : _mm512_mask_i32gather_ps(neg_inf(), valid, idx, row, 4);
      update(in, acc, nan);
    }
  }
  _mm512_mask_storeu_ps(y + oh * s.out_width + ow, active, result(acc, nan));
}

template <int S>
void max_pool(const Pool2dShape& s, const float* x, float* y) {
  int64_t lo_col = 0, hi_col = 0;
  // Stride 2 loads 2 * 16 inputs per vector, one past the last one it keeps.
  f32_max_pool2d_interior_columns(s, S == 2 ? 1 : 0, &lo_col, &hi_col);
  const __m512i gather = lane_offsets(s.stride_w);
  for (int64_t oh = 0; oh < s.out_height; ++oh) {
    int64_t ow = 0;
    while (ow < s.out_width) {
      if (ow >= lo_col && ow + 4 * kLanes <= hi_col) {
        interior_block<S, 4>(s, x, y, oh, ow, gather);
        ow += 4 * kLanes;
      } else if (ow >= lo_col && ow + kLanes <= hi_col) {
        interior_block<S, 1>(s, x, y, oh, ow, gather);
        ow += kLanes;
      } else {
        // Up to the interior's start (so the next vector can be a plain one), else a full
        // or final partial vector.
        int64_t lanes = std::min<int64_t>(kLanes, s.out_width - ow);
        if (ow < lo_col) lanes = std::min(lanes, lo_col - ow);
        edge_vector<S>(s, x, y, oh, ow, lanes);
        ow += lanes;
      }
    }
  }
}

}  // namespace

void f32_max_pool2d_avx512(const Pool2dShape& s, const float* x, float* y) {
  if (s.stride_w == 1) return max_pool<1>(s, x, y);
  if (s.stride_w == 2) return max_pool<2>(s, x, y);
  max_pool<0>(s, x, y);
}

}  // namespace deployrt
#endif  // __x86_64__
