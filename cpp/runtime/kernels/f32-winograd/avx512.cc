// AVX-512 transforms (compiled with -mavx512f... for this file only, see CMakeLists.txt;
// called only when isa_level() says the CPU and OS support AVX-512).
//
// One lane per tile, 16 tiles per item: the 36 patch values of 16 tiles are gathered
// (masked: padding and tiles past the chunk read as zero) and the outputs scattered
// (masked: the right/bottom tails and tiles past the chunk are not stored), so interior
// and edge tiles take the same path and tile groups may span rows and images.
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>

#include "kernels/f32-winograd/winograd.h"

// GCC 12 warns that _mm512_max_ps/_mm512_min_ps read an uninitialized value: its headers
// pass _mm512_undefined_ps() as the unused masked-merge source (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace deployrt {

namespace {

constexpr int A = kWinogradAlpha;
constexpr int L = 16;

// Per lane group: each lane's tile offset into the tensor and which patch rows/columns
// (input) or tile rows/columns (output) exist.
struct LaneGroup {
  __m512i base;
  __mmask16 row[A], col[A];
};

// rows_from/cols_from: the tile's first row/column relative to the plane (may be negative);
// extent: how many rows/columns the patch has (6 in, 4 out).
LaneGroup lane_group(const WinogradPlan& p, int64_t first_tile, int64_t chunk_end, int64_t channels,
                     int64_t height, int64_t width, int64_t offset_h, int64_t offset_w, int extent) {
  alignas(64) int32_t base[L];
  LaneGroup g;
  for (int i = 0; i < A; ++i) g.row[i] = g.col[i] = 0;
  for (int l = 0; l < L; ++l) {
    const int64_t t = first_tile + l;
    base[l] = 0;
    if (t >= chunk_end) continue;
    const WinogradTile tile = winograd_tile(p, t);
    const int64_t h0 = tile.oh0 - offset_h, w0 = tile.ow0 - offset_w;
    base[l] = static_cast<int32_t>(tile.n * channels * height * width + h0 * width + w0);
    for (int i = 0; i < extent; ++i) {
      if (h0 + i >= 0 && h0 + i < height) g.row[i] = static_cast<__mmask16>(g.row[i] | (1u << l));
      if (w0 + i >= 0 && w0 + i < width) g.col[i] = static_cast<__mmask16>(g.col[i] | (1u << l));
    }
  }
  g.base = _mm512_load_si512(base);
  return g;
}

// B^T over 6 vectors (in place).
inline void input_1d(__m512* d) {
  const __m512 four = _mm512_set1_ps(4.0f), five = _mm512_set1_ps(5.0f), two = _mm512_set1_ps(2.0f);
  const __m512 d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3], d4 = d[4], d5 = d[5];
  const __m512 t12 = _mm512_fnmadd_ps(four, d2, d4);  // d4 - 4 d2
  const __m512 t34 = _mm512_sub_ps(d3, _mm512_mul_ps(four, d1));  // d3 - 4 d1
  const __m512 u12 = _mm512_sub_ps(d4, d2);                        // d4 - d2
  const __m512 u34 = _mm512_mul_ps(two, _mm512_sub_ps(d3, d1));    // 2 (d3 - d1)
  d[0] = _mm512_add_ps(_mm512_fnmadd_ps(five, d2, _mm512_mul_ps(four, d0)), d4);
  d[1] = _mm512_add_ps(t12, t34);
  d[2] = _mm512_sub_ps(t12, t34);
  d[3] = _mm512_add_ps(u12, u34);
  d[4] = _mm512_sub_ps(u12, u34);
  d[5] = _mm512_add_ps(_mm512_fnmadd_ps(five, d3, _mm512_mul_ps(four, d1)), d5);
}

// A^T over 6 vectors: 4 outputs.
inline void output_1d(const __m512* m, __m512* o) {
  const __m512 s12 = _mm512_add_ps(m[1], m[2]), d12 = _mm512_sub_ps(m[1], m[2]);
  const __m512 s34 = _mm512_add_ps(m[3], m[4]), d34 = _mm512_sub_ps(m[3], m[4]);
  o[0] = _mm512_add_ps(_mm512_add_ps(m[0], s12), s34);
  o[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), d34, d12);
  o[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), s34, s12);
  o[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), d34, d12), m[5]);
}

// H (see kWinogradGScale) over 3 vectors: 6 outputs.
inline void weight_1d(__m512 g0, __m512 g1, __m512 g2, __m512* out) {
  const __m512 even = _mm512_add_ps(g0, g2), odd2 = _mm512_add_ps(g1, g1);
  const __m512 even4 = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), g2, g0);  // 4 g2 is exact: as g0 + 4 g2
  out[0] = g0;
  out[1] = _mm512_add_ps(even, g1);
  out[2] = _mm512_sub_ps(even, g1);
  out[3] = _mm512_add_ps(even4, odd2);
  out[4] = _mm512_sub_ps(even4, odd2);
  out[5] = g2;
}

}  // namespace

// One lane per output channel (row of the A panel), 16 rows per step: each row's 9 taps of
// channel c are gathered (rows past OC masked to zero), and U stored masked to the panel's
// MR rows (MR 14 or 28 leaves a partial step).
void f32_winograd_weight_avx512(const WinogradPlan& p, const float* weight, int64_t m_panel, float* u,
                                int64_t xi_stride) {
  const Conv2dShape& s = p.shape;
  const int64_t c_count = s.in_channels, mr = p.gemm.mr;
  const __m512i rows = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm512_set1_epi32(static_cast<int32_t>(c_count * 9)));
  for (int64_t r0 = 0; r0 < mr; r0 += L) {
    const int64_t oc0 = m_panel * mr + r0;
    const int width = static_cast<int>(std::min<int64_t>(L, mr - r0));
    const int valid = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(width, s.out_channels - oc0)));
    const __mmask16 store = static_cast<__mmask16>((1u << width) - 1), load = static_cast<__mmask16>((1u << valid) - 1);
    const float* base = valid > 0 ? weight + oc0 * c_count * 9 : weight;  // no lane reads when none is valid
    float* dst = u + r0;
    for (int64_t c = 0; c < c_count; ++c, base += 9, dst += mr) {
      __m512 g[9];
      for (int k = 0; k < 9; ++k) g[k] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), load, rows, base + k, 4);
      __m512 hg[3][A];  // hg[k][i] = (H g)[i][k]
      for (int k = 0; k < 3; ++k) weight_1d(g[k], g[3 + k], g[6 + k], hg[k]);
      for (int i = 0; i < A; ++i) {
        __m512 out[A];
        weight_1d(hg[0][i], hg[1][i], hg[2][i], out);
        for (int j = 0; j < A; ++j) {
          const int xi = i * A + j;
          _mm512_mask_storeu_ps(dst + xi * xi_stride, store, _mm512_mul_ps(out[j], _mm512_set1_ps(winograd_u_scale(xi))));
        }
      }
    }
  }
}

void f32_winograd_input_avx512(const WinogradPlan& p, const float* x, int64_t chunk_begin, int64_t chunk_end,
                               float* v, int64_t begin, int64_t end) {
  const Conv2dShape& s = p.shape;
  const int64_t c_count = s.in_channels, nr = p.gemm.nr, plane = s.in_height * s.in_width;
  const int64_t xi_stride = p.chunk_n_panels() * p.b_panel_floats();
  const int32_t w = static_cast<int32_t>(s.in_width);
  int64_t cached = -1;
  LaneGroup g;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t gi = item / c_count, c = item % c_count;
    const int64_t j0 = gi * L;  // first tile of the group, within the chunk
    if (gi != cached) {
      g = lane_group(p, chunk_begin + j0, chunk_end, c_count, s.in_height, s.in_width, s.pad_top, s.pad_left, A);
      cached = gi;
    }
    const float* xc = x + c * plane;
    __m512 d[A][A];  // d[k][i]: column k of the patch, row i
    for (int k = 0; k < A; ++k) {
      for (int i = 0; i < A; ++i) {
        const __m512i idx = _mm512_add_epi32(g.base, _mm512_set1_epi32(i * w + k));
        d[k][i] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), g.row[i] & g.col[k], idx, xc, 4);
      }
      input_1d(d[k]);  // d[k][i] = (B^T d)[i][k]
    }
    float* dst = v + ((j0 / nr) * c_count + c) * nr + j0 % nr;
    for (int i = 0; i < A; ++i) {
      __m512 row[A];
      for (int k = 0; k < A; ++k) row[k] = d[k][i];
      input_1d(row);
      for (int k = 0; k < A; ++k) _mm512_storeu_ps(dst + (i * A + k) * xi_stride, row[k]);
    }
  }
}

void f32_winograd_output_avx512(const WinogradPlan& p, const float* m, int64_t chunk_begin, int64_t chunk_end,
                                const float* bias, const float* residual, Activation act, float* y, int64_t begin,
                                int64_t end) {
  const Conv2dShape& s = p.shape;
  const int64_t oc_count = s.out_channels, plane = s.out_height * s.out_width;
  const int64_t xi_stride = oc_count * p.chunk_tiles;
  const int32_t ow = static_cast<int32_t>(s.out_width);
  const __m512 lo = _mm512_set1_ps(act.min), hi = _mm512_set1_ps(act.max);
  int64_t cached = -1;
  LaneGroup g;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t gi = item / oc_count, oc = item % oc_count;
    const int64_t j0 = gi * L;
    if (gi != cached) {
      g = lane_group(p, chunk_begin + j0, chunk_end, oc_count, s.out_height, s.out_width, 0, 0, 4);
      cached = gi;
    }
    if ((g.row[0] & g.col[0]) == 0) continue;  // the group is past the chunk's last tile
    const float* src = m + oc * p.chunk_tiles + j0;
    __m512 t[A][4];  // t[k][r] = (A^T M)[r][k]
    for (int k = 0; k < A; ++k) {
      __m512 col[A];
      for (int i = 0; i < A; ++i) col[i] = _mm512_loadu_ps(src + (i * A + k) * xi_stride);
      output_1d(col, t[k]);
    }
    const __m512 b = _mm512_set1_ps(bias != nullptr ? bias[oc] : 0.0f);
    float* yoc = y + oc * plane;
    const float* roc = residual != nullptr ? residual + oc * plane : nullptr;
    for (int r = 0; r < 4; ++r) {
      __m512 row[A], o[4];
      for (int k = 0; k < A; ++k) row[k] = t[k][r];
      output_1d(row, o);
      for (int col = 0; col < 4; ++col) {
        const __mmask16 mask = g.row[r] & g.col[col];
        const __m512i idx = _mm512_add_epi32(g.base, _mm512_set1_epi32(r * ow + col));
        __m512 out = _mm512_add_ps(o[col], b);
        if (roc != nullptr) out = _mm512_add_ps(out, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, idx, roc, 4));
        out = _mm512_min_ps(hi, _mm512_max_ps(lo, out));
        _mm512_mask_i32scatter_ps(yoc, mask, idx, out, 4);
      }
    }
  }
}

}  // namespace deployrt
#endif  // __x86_64__
