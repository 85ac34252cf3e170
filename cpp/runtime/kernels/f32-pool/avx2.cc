// AVX2 max-pool kernel (compiled with -mavx2 -mfma for this file only, see CMakeLists.txt;
// called only when isa_level() allows AVX2).
//
// Windows 2 or 3 columns wide at column stride 2 (ResNet's stem pool) take the separable
// row path of stride2_rows.h (Avx2Rows below); every other geometry the generic path:
//
// The AVX-512 kernel's structure on 8-lane ymm vectors: interior columns in blocks of 4
// vectors with plain loads (contiguous for stride 1, two loads deinterleaved for stride 2,
// a gather otherwise); columns near the row ends and the last partial vector with per-lane
// masks (vmaskmov / masked gathers never touch masked-off lanes' memory).
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "kernels/f32-pool/pool.h"
#include "kernels/f32-pool/stride2_rows.h"
#include "kernels/window2d/avx2.h"

namespace deployrt {

namespace {

inline __m256 neg_inf() { return _mm256_set1_ps(-std::numeric_limits<float>::infinity()); }

// acc = v > acc ? v : acc (vmaxps returns its second operand on NaN and on equal values,
// so a NaN v leaves acc alone and ties keep the earlier tap, as the reference does); the
// NaN lanes are remembered in `nan` (all-ones lanes) and win at the end.
inline void update(__m256 v, __m256& acc, __m256& nan) {
  acc = _mm256_max_ps(v, acc);
  nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}

inline __m256 result(__m256 acc, __m256 nan) {
  return _mm256_blendv_ps(acc, _mm256_set1_ps(std::numeric_limits<float>::quiet_NaN()), nan);
}

// NV full vectors starting at output column ow, all inside the interior.
template <int S, int NV>
inline void interior_block(const Pool2dShape& s, const float* x, float* y, int64_t oh, int64_t ow, __m256i gather) {
  const int64_t stride = S == 0 ? s.stride_w : S;
  __m256 acc[NV], nan[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    acc[v] = neg_inf();
    nan[v] = _mm256_setzero_ps();
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
  for (int v = 0; v < NV; ++v) _mm256_storeu_ps(out + v * kLanes, result(acc[v], nan[v]));
}

// `lanes` (1..8) output columns from ow, any of whose taps may fall outside the row.
template <int S>
inline void edge_vector(const Pool2dShape& s, const float* x, float* y, int64_t oh, int64_t ow, int64_t lanes) {
  const __m256i active = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(lanes)), iota());
  const __m256i width = _mm256_set1_epi32(static_cast<int32_t>(s.in_width));
  // Lane t of tap kw reads input column (ow + t) * stride_w + kw * dilation_w - pad_left.
  const __m256i first = lane_columns(ow, s.stride_w, s.pad_left);
  __m256 acc = neg_inf(), nan = _mm256_setzero_ps();
  for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
    const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
    if (ih < 0 || ih >= s.in_height) continue;
    const float* row = x + ih * s.in_width;
    for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
      const int32_t off = static_cast<int32_t>(kw * s.dilation_w);
      const __m256i idx = _mm256_add_epi32(first, _mm256_set1_epi32(off));
      const __m256i valid = lanes_inside(idx, width, active);
      __m256 in;
      if (S == 1) {
        // vmaskmov reads 0 in masked-off lanes: make them -inf, which never wins.
        in = _mm256_blendv_ps(neg_inf(), _mm256_maskload_ps(at(row, ow - s.pad_left + off), valid),
                              _mm256_castsi256_ps(valid));
      } else {
        in = _mm256_mask_i32gather_ps(neg_inf(), row, idx, _mm256_castsi256_ps(valid), 4);
      }
      update(in, acc, nan);
    }
  }
  float* out = y + oh * s.out_width + ow;
  if (lanes == kLanes) {
    _mm256_storeu_ps(out, result(acc, nan));
  } else {
    _mm256_maskstore_ps(out, active, result(acc, nan));
  }
}

template <int S>
void max_pool(const Pool2dShape& s, const float* x, float* y) {
  int64_t lo_col = 0, hi_col = 0;
  // Stride 2 loads 2 * 8 inputs per vector, one past the last one it keeps.
  f32_max_pool2d_interior_columns(s, S == 2 ? 1 : 0, &lo_col, &hi_col);
  const __m256i gather = lane_offsets(s.stride_w);
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

// The row path's passes (kernels/f32-pool/stride2_rows.h) on ymm vectors.
struct Avx2Rows {
  // All-ones lanes t of an 8-float load at row[offset] with offset + t inside [0, width).
  static __m256i inside(int64_t offset, int64_t width) {
    const int64_t lo = std::clamp<int64_t>(-offset, 0, kLanes), hi = std::clamp<int64_t>(width - offset, 0, kLanes);
    const __m256i t = iota();
    return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(lo)), t),
                               _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(hi)), t));
  }

  // The first `lanes` lanes (all-ones), for partial stores.
  static __m256i first_lanes(int64_t lanes) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(std::min<int64_t>(lanes, kLanes))), iota());
  }

  // vmaskmov reads 0 in masked-off lanes (and never touches their memory): make them -inf,
  // which never wins.
  static __m256 masked_load(const float* p, __m256i mask) {
    return _mm256_blendv_ps(neg_inf(), _mm256_maskload_ps(p, mask), _mm256_castsi256_ps(mask));
  }

  // One pass's columns: output vector v (8 outputs) reads the window starts base + 2t, as
  // two vectors of 8 starts (from base and base + 8) of which the even lanes are kept; its
  // loads at base + 8 * half + k need lane masks near the row ends.
  template <int K>
  class Columns {
   public:
    Columns(int64_t width, int64_t col0, int64_t pad_left, int64_t count) : first_col_(col0 - pad_left), count_(count) {
      const int64_t first_col = first_col_;
      for (int64_t v = 0; v * kLanes < count; ++v) {
        const int64_t base = first_col + 2 * v * kLanes;
        // Inside when the last load's last lane, base + 8 + (K - 1) + 7, is.
        masked_[v] = !(base >= 0 && base + 2 * kLanes - 1 + K <= width);
        for (int half = 0; half < 2; ++half) {
          for (int k = 0; k < K; ++k) mask_[v][half][k] = inside(base + half * kLanes + k, width);
        }
      }
    }

    template <bool kNan>
    bool horizontal(const float* row, float* h) const {
      __m256 nan = _mm256_setzero_ps();
      for (int64_t v = 0; v * kLanes < count_; ++v) {
        const int64_t base = first_col_ + 2 * v * kLanes;
        __m256 lo, hi;
        if (masked_[v]) {
          lo = window<kNan, true>(row, base, mask_[v][0], nan);
          hi = window<kNan, true>(row, base + kLanes, mask_[v][1], nan);
        } else {
          lo = window<kNan, false>(row, base, mask_[v][0], nan);
          hi = window<kNan, false>(row, base + kLanes, mask_[v][1], nan);
        }
        // [l0 l2 h0 h2 | l4 l6 h4 h6], then the 64-bit pairs reordered to l0 l2 l4 l6 h0 h2 h4 h6.
        const __m256 evens = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
        const __m256 r = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(evens), _MM_SHUFFLE(3, 1, 2, 0)));
        const int64_t t = v * kLanes;
        if (count_ - t >= kLanes) {
          _mm256_storeu_ps(h + t, r);
        } else {
          _mm256_maskstore_ps(h + t, first_lanes(count_ - t), r);
        }
      }
      return _mm256_movemask_ps(nan) != 0;
    }

   private:
    // w[j] = max of row[base + j .. base + j + K) for j in [0, 8), taps in column order
    // (masked-off lanes read -inf; unmasked, base >= 0). The fast pass (kNan false) ORs
    // into `nan` the lanes where a column it read is a NaN (the first and last tap's loads
    // cover them all); kNan makes NaN windows NaN.
    template <bool kNan, bool kMasked>
    static __m256 window(const float* row, int64_t base, const __m256i* masks, __m256& nan) {
      __m256 first = neg_inf(), acc = first, last = first, nan_lanes = _mm256_setzero_ps();
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) {
        const __m256 v = kMasked ? masked_load(at(row, base + k), masks[k]) : _mm256_loadu_ps(row + base + k);
        acc = k == 0 ? v : _mm256_max_ps(v, acc);
        if (k == 0) first = v;
        last = v;
        if (kNan) nan_lanes = _mm256_or_ps(nan_lanes, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
      }
      if (kNan) return result(acc, nan_lanes);
      nan = _mm256_or_ps(nan, _mm256_cmp_ps(first, last, _CMP_UNORD_Q));
      return acc;
    }

    int64_t first_col_, count_;
    bool masked_[kRowsChunk / kLanes];
    __m256i mask_[kRowsChunk / kLanes][2][K];
  };

  template <bool kNan>
  static void vertical(const float* const* rows, int64_t n, int64_t count, float* out) {
    for (int64_t t = 0; t < count; t += kLanes) {
      const bool full = count - t >= kLanes;
      const __m256i m = first_lanes(count - t);
      __m256 acc = neg_inf(), nan = _mm256_setzero_ps();
      for (int64_t r = 0; r < n; ++r) {
        const __m256 v = full ? _mm256_loadu_ps(rows[r] + t) : _mm256_maskload_ps(rows[r] + t, m);
        acc = r == 0 ? v : _mm256_max_ps(v, acc);
        if (kNan) nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
      }
      if (kNan) acc = result(acc, nan);
      if (full) {
        _mm256_storeu_ps(out + t, acc);
      } else {
        _mm256_maskstore_ps(out + t, m, acc);
      }
    }
  }
};

}  // namespace

void f32_max_pool2d_avx2(const Pool2dShape& s, const float* x, float* y) {
  if (stride2_rows_fit(s)) return max_pool_stride2_rows<Avx2Rows>(s, x, y);
  if (s.stride_w == 1) return max_pool<1>(s, x, y);
  if (s.stride_w == 2) return max_pool<2>(s, x, y);
  max_pool<0>(s, x, y);
}

}  // namespace deployrt
#endif  // __x86_64__
