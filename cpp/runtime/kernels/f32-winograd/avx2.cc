// AVX2 transforms (compiled with -mavx2 -mfma for this file only, see CMakeLists.txt;
// called only when isa_level() says the CPU supports AVX2 and FMA).
//
// One lane per tile, 8 tiles per item: patch values are gathered with masks (padding and
// tiles past the chunk read as zero); AVX2 has no scatter, so each output vector is
// stored lane by lane where its tile has that output (right/bottom tails).
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>

#include "kernels/f32-winograd/winograd.h"

namespace deployrt {

namespace {

constexpr int A = kWinogradAlpha;
constexpr int L = 8;

struct LaneGroup {
  alignas(32) int32_t base[L];
  unsigned row[A], col[A];  // bit l: lane l's tile has this patch row / column
};

LaneGroup lane_group(const WinogradPlan& p, int64_t first_tile, int64_t chunk_end, int64_t channels,
                     int64_t height, int64_t width, int64_t offset_h, int64_t offset_w, int extent) {
  LaneGroup g;
  for (int i = 0; i < A; ++i) g.row[i] = g.col[i] = 0;
  for (int l = 0; l < L; ++l) {
    const int64_t t = first_tile + l;
    g.base[l] = 0;
    if (t >= chunk_end) continue;
    const WinogradTile tile = winograd_tile(p, t);
    const int64_t h0 = tile.oh0 - offset_h, w0 = tile.ow0 - offset_w;
    g.base[l] = static_cast<int32_t>(tile.n * channels * height * width + h0 * width + w0);
    for (int i = 0; i < extent; ++i) {
      if (h0 + i >= 0 && h0 + i < height) g.row[i] |= 1u << l;
      if (w0 + i >= 0 && w0 + i < width) g.col[i] |= 1u << l;
    }
  }
  return g;
}

// All-ones lanes where bit l of `bits` is set.
inline __m256 lane_mask(unsigned bits) {
  const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256i set = _mm256_and_si256(_mm256_set1_epi32(static_cast<int>(bits)), lane_bit);
  return _mm256_castsi256_ps(_mm256_cmpeq_epi32(set, lane_bit));
}

inline void input_1d(__m256* d) {
  const __m256 four = _mm256_set1_ps(4.0f), five = _mm256_set1_ps(5.0f), two = _mm256_set1_ps(2.0f);
  const __m256 d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3], d4 = d[4], d5 = d[5];
  const __m256 t12 = _mm256_fnmadd_ps(four, d2, d4);
  const __m256 t34 = _mm256_fnmadd_ps(four, d1, d3);
  const __m256 u12 = _mm256_sub_ps(d4, d2);
  const __m256 u34 = _mm256_mul_ps(two, _mm256_sub_ps(d3, d1));
  d[0] = _mm256_add_ps(_mm256_fnmadd_ps(five, d2, _mm256_mul_ps(four, d0)), d4);
  d[1] = _mm256_add_ps(t12, t34);
  d[2] = _mm256_sub_ps(t12, t34);
  d[3] = _mm256_add_ps(u12, u34);
  d[4] = _mm256_sub_ps(u12, u34);
  d[5] = _mm256_add_ps(_mm256_fnmadd_ps(five, d3, _mm256_mul_ps(four, d1)), d5);
}

inline void output_1d(const __m256* m, __m256* o) {
  const __m256 s12 = _mm256_add_ps(m[1], m[2]), d12 = _mm256_sub_ps(m[1], m[2]);
  const __m256 s34 = _mm256_add_ps(m[3], m[4]), d34 = _mm256_sub_ps(m[3], m[4]);
  o[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), s34);
  o[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), d34, d12);
  o[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), s34, s12);
  o[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.0f), d34, d12), m[5]);
}

// H (see kWinogradGScale) over 3 vectors: 6 outputs.
inline void weight_1d(__m256 g0, __m256 g1, __m256 g2, __m256* out) {
  const __m256 even = _mm256_add_ps(g0, g2), odd2 = _mm256_add_ps(g1, g1);
  const __m256 even4 = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), g2, g0);  // 4 g2 is exact: as g0 + 4 g2
  out[0] = g0;
  out[1] = _mm256_add_ps(even, g1);
  out[2] = _mm256_sub_ps(even, g1);
  out[3] = _mm256_add_ps(even4, odd2);
  out[4] = _mm256_sub_ps(even4, odd2);
  out[5] = g2;
}

// All-ones in lanes [0, n).
inline __m256i first_lanes(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

}  // namespace

// One lane per output channel (row of the A panel), 8 rows per step: each row's 9 taps of
// channel c are gathered (rows past OC masked to zero), and U stored masked to the panel's
// MR rows (MR 6 is one partial step).
void f32_winograd_weight_avx2(const WinogradPlan& p, const float* weight, int64_t m_panel, float* u,
                              int64_t xi_stride) {
  const Conv2dShape& s = p.shape;
  const int64_t c_count = s.in_channels, mr = p.gemm.mr;
  const __m256i rows = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                          _mm256_set1_epi32(static_cast<int32_t>(c_count * 9)));
  for (int64_t r0 = 0; r0 < mr; r0 += L) {
    const int64_t oc0 = m_panel * mr + r0;
    const int width = static_cast<int>(std::min<int64_t>(L, mr - r0));
    const int valid = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(width, s.out_channels - oc0)));
    const __m256i store = first_lanes(width);
    const __m256 load = _mm256_castsi256_ps(first_lanes(valid));
    const float* base = valid > 0 ? weight + oc0 * c_count * 9 : weight;  // no lane reads when none is valid
    float* dst = u + r0;
    for (int64_t c = 0; c < c_count; ++c, base += 9, dst += mr) {
      __m256 g[9];
      for (int k = 0; k < 9; ++k) g[k] = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), base + k, rows, load, 4);
      __m256 hg[3][A];  // hg[k][i] = (H g)[i][k]
      for (int k = 0; k < 3; ++k) weight_1d(g[k], g[3 + k], g[6 + k], hg[k]);
      for (int i = 0; i < A; ++i) {
        __m256 out[A];
        weight_1d(hg[0][i], hg[1][i], hg[2][i], out);
        for (int j = 0; j < A; ++j) {
          const int xi = i * A + j;
          _mm256_maskstore_ps(dst + xi * xi_stride, store, _mm256_mul_ps(out[j], _mm256_set1_ps(winograd_u_scale(xi))));
        }
      }
    }
  }
}

void f32_winograd_input_avx2(const WinogradPlan& p, const float* x, int64_t chunk_begin, int64_t chunk_end,
                             float* v, int64_t begin, int64_t end) {
  const Conv2dShape& s = p.shape;
  const int64_t c_count = s.in_channels, nr = p.gemm.nr, plane = s.in_height * s.in_width;
  const int64_t xi_stride = p.chunk_n_panels() * p.b_panel_floats();
  const int32_t w = static_cast<int32_t>(s.in_width);
  int64_t cached = -1;
  LaneGroup g;
  __m256i base = _mm256_setzero_si256();
  __m256 mask[A][A];
  for (int64_t item = begin; item < end; ++item) {
    const int64_t gi = item / c_count, c = item % c_count;
    const int64_t j0 = gi * L;
    if (gi != cached) {
      g = lane_group(p, chunk_begin + j0, chunk_end, c_count, s.in_height, s.in_width, s.pad_top, s.pad_left, A);
      base = _mm256_load_si256(reinterpret_cast<const __m256i*>(g.base));
      for (int i = 0; i < A; ++i) {
        for (int k = 0; k < A; ++k) mask[i][k] = lane_mask(g.row[i] & g.col[k]);
      }
      cached = gi;
    }
    const float* xc = x + c * plane;
    __m256 d[A][A];  // d[k][i]: column k, row i
    for (int k = 0; k < A; ++k) {
      for (int i = 0; i < A; ++i) {
        const __m256i idx = _mm256_add_epi32(base, _mm256_set1_epi32(i * w + k));
        d[k][i] = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), xc, idx, mask[i][k], 4);
      }
      input_1d(d[k]);
    }
    float* dst = v + ((j0 / nr) * c_count + c) * nr + j0 % nr;
    for (int i = 0; i < A; ++i) {
      __m256 row[A];
      for (int k = 0; k < A; ++k) row[k] = d[k][i];
      input_1d(row);
      for (int k = 0; k < A; ++k) _mm256_storeu_ps(dst + (i * A + k) * xi_stride, row[k]);
    }
  }
}

void f32_winograd_output_avx2(const WinogradPlan& p, const float* m, int64_t chunk_begin, int64_t chunk_end,
                              const float* bias, const float* residual, Activation act, float* y, int64_t begin,
                              int64_t end) {
  const Conv2dShape& s = p.shape;
  const int64_t oc_count = s.out_channels, plane = s.out_height * s.out_width;
  const int64_t xi_stride = oc_count * p.chunk_tiles;
  const int32_t ow = static_cast<int32_t>(s.out_width);
  const __m256 lo = _mm256_set1_ps(act.min), hi = _mm256_set1_ps(act.max);
  int64_t cached = -1;
  LaneGroup g;
  __m256i base = _mm256_setzero_si256();
  for (int64_t item = begin; item < end; ++item) {
    const int64_t gi = item / oc_count, oc = item % oc_count;
    const int64_t j0 = gi * L;
    if (gi != cached) {
      g = lane_group(p, chunk_begin + j0, chunk_end, oc_count, s.out_height, s.out_width, 0, 0, 4);
      base = _mm256_load_si256(reinterpret_cast<const __m256i*>(g.base));
      cached = gi;
    }
    if ((g.row[0] & g.col[0]) == 0) continue;  // the group is past the chunk's last tile
    const float* src = m + oc * p.chunk_tiles + j0;
    __m256 t[A][4];
    for (int k = 0; k < A; ++k) {
      __m256 col[A];
      for (int i = 0; i < A; ++i) col[i] = _mm256_loadu_ps(src + (i * A + k) * xi_stride);
      output_1d(col, t[k]);
    }
    const __m256 b = _mm256_set1_ps(bias != nullptr ? bias[oc] : 0.0f);
    float* yoc = y + oc * plane;
    const float* roc = residual != nullptr ? residual + oc * plane : nullptr;
    for (int r = 0; r < 4; ++r) {
      __m256 row[A], o[4];
      for (int k = 0; k < A; ++k) row[k] = t[k][r];
      output_1d(row, o);
      for (int col = 0; col < 4; ++col) {
        const unsigned bits = g.row[r] & g.col[col];
        const int32_t offset = r * ow + col;
        __m256 out = _mm256_add_ps(o[col], b);
        if (roc != nullptr) {
          const __m256i idx = _mm256_add_epi32(base, _mm256_set1_epi32(offset));
          out = _mm256_add_ps(out, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), roc, idx, lane_mask(bits), 4));
        }
        // max(lo, y) / min(hi, y) return y (the second operand) when y is NaN: NaN is kept.
        out = _mm256_min_ps(hi, _mm256_max_ps(lo, out));
        alignas(32) float lanes[L];
        _mm256_store_ps(lanes, out);
        for (int l = 0; l < L; ++l) {
          if ((bits >> l) & 1u) yoc[g.base[l] + offset] = lanes[l];
        }
      }
    }
  }
}

}  // namespace deployrt
#endif  // __x86_64__
