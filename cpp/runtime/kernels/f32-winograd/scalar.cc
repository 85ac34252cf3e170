// Portable transforms, one tile per item: the reference the SIMD variants are tested
// against, and what aarch64 (and DEPLOYRT_ISA=scalar) runs.
#include "kernels/f32-winograd/winograd.h"

namespace deployrt {

namespace {

constexpr int A = kWinogradAlpha;

// B^T applied to a column of 6 (stride s): out[i] = sum_k BT[i][k] d[k].
template <typename Get, typename Put>
inline void input_1d(Get d, Put out) {
  const float d0 = d(0), d1 = d(1), d2 = d(2), d3 = d(3), d4 = d(4), d5 = d(5);
  out(0, 4.0f * d0 - 5.0f * d2 + d4);
  out(1, -4.0f * d1 - 4.0f * d2 + d3 + d4);
  out(2, 4.0f * d1 - 4.0f * d2 - d3 + d4);
  out(3, -2.0f * d1 - d2 + 2.0f * d3 + d4);
  out(4, 2.0f * d1 - d2 - 2.0f * d3 + d4);
  out(5, 4.0f * d1 - 5.0f * d3 + d5);
}

// A^T applied to 6 values: 4 outputs.
template <typename Get, typename Put>
inline void output_1d(Get m, Put out) {
  const float m0 = m(0), m1 = m(1), m2 = m(2), m3 = m(3), m4 = m(4), m5 = m(5);
  const float s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
  out(0, m0 + s12 + s34);
  out(1, d12 + 2.0f * d34);
  out(2, s12 + 4.0f * s34);
  out(3, d12 + 8.0f * d34 + m5);
}

// H (see kWinogradGScale) applied to 3 taps: 6 outputs.
inline void weight_1d(float g0, float g1, float g2, float* out, int stride) {
  const float even = g0 + g2, odd2 = 2.0f * g1, even4 = g0 + 4.0f * g2;
  out[0] = g0;
  out[stride] = even + g1;
  out[2 * stride] = even - g1;
  out[3 * stride] = even4 + odd2;
  out[4 * stride] = even4 - odd2;
  out[5 * stride] = g2;
}

}  // namespace

void f32_winograd_weight_scalar(const WinogradPlan& p, const float* weight, int64_t m_panel, float* u,
                                int64_t xi_stride) {
  const Conv2dShape& s = p.shape;
  const int64_t c_count = s.in_channels, mr = p.gemm.mr;
  for (int64_t r = 0; r < mr; ++r) {
    const int64_t oc = m_panel * mr + r;
    for (int64_t c = 0; c < c_count; ++c) {
      // Rows past OC transform zeros, as the SIMD variants' masked lanes do (the negative
      // scales make some of them -0: bit for bit the same U everywhere).
      static const float kZeros[9] = {};
      const float* g = oc < s.out_channels ? weight + (oc * c_count + c) * 9 : kZeros;
      float hg[A][3];  // H g: down the columns (g is [kh][kw])
      float out[kWinogradPoints];
      for (int k = 0; k < 3; ++k) weight_1d(g[k], g[3 + k], g[6 + k], &hg[0][k], 3);
      for (int i = 0; i < A; ++i) weight_1d(hg[i][0], hg[i][1], hg[i][2], out + i * A, 1);
      for (int xi = 0; xi < kWinogradPoints; ++xi) u[xi * xi_stride + c * mr + r] = out[xi] * winograd_u_scale(xi);
    }
  }
}

void f32_winograd_input_scalar(const WinogradPlan& p, const float* x, int64_t chunk_begin, int64_t chunk_end,
                               float* v, int64_t begin, int64_t end) {
  const Conv2dShape& s = p.shape;
  const int64_t c_count = s.in_channels, nr = p.gemm.nr;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t j = item / c_count, c = item % c_count;  // j: tile within the chunk
    const int64_t t = chunk_begin + j;
    float d[A][A] = {};
    if (t < chunk_end) {
      const WinogradTile tile = winograd_tile(p, t);
      const float* plane = x + (tile.n * c_count + c) * s.in_height * s.in_width;
      for (int i = 0; i < A; ++i) {
        const int64_t ih = tile.oh0 - s.pad_top + i;
        if (ih < 0 || ih >= s.in_height) continue;
        for (int k = 0; k < A; ++k) {
          const int64_t iw = tile.ow0 - s.pad_left + k;
          if (iw >= 0 && iw < s.in_width) d[i][k] = plane[ih * s.in_width + iw];
        }
      }
    }
    float tmp[A][A];  // B^T d
    for (int k = 0; k < A; ++k) {
      input_1d([&](int i) { return d[i][k]; }, [&](int i, float val) { tmp[i][k] = val; });
    }
    float* dst = v + ((j / nr) * c_count + c) * nr + j % nr;
    const int64_t xi_stride = p.chunk_n_panels() * p.b_panel_floats();
    for (int i = 0; i < A; ++i) {
      input_1d([&](int k) { return tmp[i][k]; }, [&](int k, float val) { dst[(i * A + k) * xi_stride] = val; });
    }
  }
}

void f32_winograd_output_scalar(const WinogradPlan& p, const float* m, int64_t chunk_begin, int64_t chunk_end,
                                const float* bias, const float* residual, Activation act, float* y, int64_t begin,
                                int64_t end) {
  const Conv2dShape& s = p.shape;
  const int64_t oc_count = s.out_channels;
  const int64_t xi_stride = oc_count * p.chunk_tiles;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t j = item / oc_count, oc = item % oc_count;
    const int64_t t = chunk_begin + j;
    if (t >= chunk_end) continue;
    const float* src = m + oc * p.chunk_tiles + j;
    float tmp[4][A];  // A^T M
    for (int k = 0; k < A; ++k) {
      output_1d([&](int i) { return src[(i * A + k) * xi_stride]; }, [&](int r, float val) { tmp[r][k] = val; });
    }
    const WinogradTile tile = winograd_tile(p, t);
    const int64_t plane = (tile.n * oc_count + oc) * s.out_height * s.out_width;
    const float b = bias != nullptr ? bias[oc] : 0.0f;
    for (int r = 0; r < 4; ++r) {
      const int64_t oh = tile.oh0 + r;
      if (oh >= s.out_height) break;
      output_1d([&](int k) { return tmp[r][k]; },
                [&](int col, float val) {
                  const int64_t ow = tile.ow0 + col;
                  if (ow >= s.out_width) return;
                  const int64_t at = plane + oh * s.out_width + ow;
                  float out = val + b;
                  if (residual != nullptr) out += residual[at];
                  y[at] = clamp_keep_nan(out, act.min, act.max);
                });
    }
  }
}

}  // namespace deployrt
