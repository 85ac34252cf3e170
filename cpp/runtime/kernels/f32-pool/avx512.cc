// AVX-512 max-pool kernel (compiled with -mavx512f... for this file only, see
// CMakeLists.txt; called only when isa_level() allows AVX-512).
//
// Windows 2 or 3 columns wide at column stride 2 (ResNet's stem pool) take the separable
// row path of stride2_rows.h (Avx512Rows below); every other geometry the generic path:
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
#include "kernels/f32-pool/stride2_rows.h"
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

// The row path's passes (kernels/f32-pool/stride2_rows.h) on zmm vectors.
struct Avx512Rows {
  // The first `lanes` lanes (none when lanes <= 0).
  static __mmask16 first_lanes(int64_t lanes) {
    if (lanes <= 0) return 0;
    return lanes >= kLanes ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << lanes) - 1u);
  }

  // One pass's columns, from input column col0 (even, >= 0): output vector v (16 outputs)
  // loads the 32 input columns col0 + 32v + [0, 32) once, as two aligned-to-the-pass
  // vectors, and deinterleaves them into E (columns col0 + 32v + 2t) and O (the odd ones
  // after them). Tap k of output t reads column 2t + d, d = k - pad_left, relative to
  // col0 + 32v: d = 0 is E, d = 1 is O, d = -1 is O shifted up one lane with the previous
  // vector's last odd column in lane 0, d = 2 is E shifted down one lane with the next
  // vector's first even column in lane 15. So every input column is loaded once per row
  // (unaligned loads that split cache lines cost twice), and the shifts are one valignd.
  template <int K>
  class Columns {
   public:
    Columns(int64_t width, int64_t col0, int64_t pad_left, int64_t count)
        : col0_(col0), pad_(pad_left), count_(count), vectors_((count + kLanes - 1) / kLanes) {
      // Vector vectors_ is the lookahead of the last one (d = 2), often empty.
      for (int64_t v = 0; v <= vectors_; ++v) {
        const int64_t rem = width - col0 - 2 * kLanes * v;  // columns of the row from its first
        full_[v] = rem >= 2 * kLanes;
        mask_[v][0] = first_lanes(rem);
        mask_[v][1] = first_lanes(rem - kLanes);
      }
      has_prev_ = col0 >= 1 && col0 - 1 < width;
    }

    template <bool kNan>
    bool horizontal(const float* row, float* h) const {
      return pad_ == 0 ? run<kNan, 0>(row, h) : run<kNan, 1>(row, h);
    }

   private:
    static constexpr bool kLookahead(int pad) { return K - pad == 3; }

    template <bool kNan, int P>
    bool run(const float* row, float* h) const {
      __mmask16 nan = 0;
      // The odd column before col0 (d = -1 of output 0) in lane 15; -inf in the padding.
      __m512 prev_odd = neg_inf();
      if (P == 1 && has_prev_) {
        const float before = row[col0_ - 1];
        prev_odd = _mm512_set1_ps(before);
        if (before != before) nan = 1;
      }
      __m512 e, o;
      load(row, 0, e, o, nan);
      for (int64_t v = 0; v < vectors_; ++v) {
        // d = 2 needs the next vector's first even column; d = -1 the previous odd one.
        __m512 next_e = e, next_o = o;
        if (kLookahead(P)) load(row, v + 1, next_e, next_o, nan);
        __m512 taps[K];
#pragma GCC unroll 3
        for (int k = 0; k < K; ++k) {
          const int d = k - P;
          taps[k] = d == 0   ? e
                    : d == 1 ? o
                    : d < 0  ? _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(o),
                                                                       _mm512_castps_si512(prev_odd), 15))
                             : _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(next_e),
                                                                       _mm512_castps_si512(e), 1));
        }
        // Taps in column order, an earlier one kept on ties.
        __m512 acc = taps[0];
        __mmask16 nan_lanes = 0;
#pragma GCC unroll 3
        for (int k = 0; k < K; ++k) {
          if (k > 0) acc = _mm512_max_ps(taps[k], acc);
          if (kNan) nan_lanes = static_cast<__mmask16>(nan_lanes | _mm512_cmp_ps_mask(taps[k], taps[k], _CMP_UNORD_Q));
        }
        if (kNan) acc = result(acc, nan_lanes);
        const int64_t t = v * kLanes;
        if (count_ - t >= kLanes) {
          _mm512_storeu_ps(h + t, acc);
        } else {
          _mm512_mask_storeu_ps(h + t, first_lanes(count_ - t), acc);
        }
        prev_odd = o;
        if (kLookahead(P)) {
          e = next_e;
          o = next_o;
        } else if (v + 1 < vectors_) {
          load(row, v + 1, e, o, nan);
        }
      }
      return nan != 0;
    }

    // E and O of vector v (masked-off lanes, past the row's end, read -inf and never touch
    // memory); ORs into `nan` whether a column read is a NaN.
    void load(const float* row, int64_t v, __m512& e, __m512& o, __mmask16& nan) const {
      const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
      const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
      const int64_t off = col0_ + 2 * kLanes * v;
      __m512 a, b;
      if (full_[v]) {
        a = _mm512_loadu_ps(row + off);
        b = _mm512_loadu_ps(row + off + kLanes);
      } else {
        a = _mm512_mask_loadu_ps(neg_inf(), mask_[v][0], at(row, off));
        b = _mm512_mask_loadu_ps(neg_inf(), mask_[v][1], at(row, off + kLanes));
      }
      nan = static_cast<__mmask16>(nan | _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q));
      e = _mm512_permutex2var_ps(a, even, b);
      o = _mm512_permutex2var_ps(a, odd, b);
    }

    int64_t col0_, pad_, count_, vectors_;
    bool has_prev_;
    bool full_[kRowsChunk / kLanes + 1];
    __mmask16 mask_[kRowsChunk / kLanes + 1][2];
  };

  template <bool kNan>
  static void vertical(const float* const* rows, int64_t n, int64_t count, float* out) {
    for (int64_t t = 0; t < count; t += kLanes) {
      const bool full = count - t >= kLanes;
      const __mmask16 m = first_lanes(count - t);
      __m512 acc = neg_inf();
      __mmask16 nan = 0;
      for (int64_t r = 0; r < n; ++r) {
        const __m512 v = full ? _mm512_loadu_ps(rows[r] + t) : _mm512_maskz_loadu_ps(m, rows[r] + t);
        acc = r == 0 ? v : _mm512_max_ps(v, acc);
        if (kNan) nan = static_cast<__mmask16>(nan | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
      }
      if (kNan) acc = result(acc, nan);
      if (full) {
        _mm512_storeu_ps(out + t, acc);
      } else {
        _mm512_mask_storeu_ps(out + t, m, acc);
      }
    }
  }
};

}  // namespace

void f32_max_pool2d_avx512(const Pool2dShape& s, const float* x, float* y) {
  if (stride2_rows_fit(s)) return max_pool_stride2_rows<Avx512Rows>(s, x, y);
  if (s.stride_w == 1) return max_pool<1>(s, x, y);
  if (s.stride_w == 2) return max_pool<2>(s, x, y);
  max_pool<0>(s, x, y);
}

}  // namespace deployrt
#endif  // __x86_64__
