// The parts of an AVX-512 MR x (NV * 16) tile that the direct (f32-gemm/avx512.cc) and
// indirect (f32-igemm/avx512.cc) microkernels share: the accumulators' start from the
// bias, the column masks of a tile narrower than NV * 16, and the fused epilogue store.
//
// Included only by AVX-512 translation units: the unnamed namespace gives each its own
// copy, compiled with its flags (a shared inline function could otherwise be kept, with
// AVX-512 code, for a caller on a lesser CPU).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/f32-gemm/gemm.h"

namespace deployrt {
namespace {

/// Every row's accumulators start from its bias (rows past mr, and all rows without a
/// bias, from zero).
template <int MR, int NV>
inline void init_accumulators(__m512 (&acc)[MR][NV], const GemmEpilogue& ep, int64_t mr) {
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
    const __m512 init = ep.bias != nullptr && i < mr ? _mm512_set1_ps(ep.bias[i]) : _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = init;
  }
}

/// mask[v]: the lanes of vector v that lie among the tile's first nr columns.
template <int NV>
inline void column_masks(__mmask16 (&mask)[NV], int64_t nr) {
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const int64_t lanes = nr - v * 16;
    mask[v] = lanes >= 16 ? __mmask16(0xFFFF) : lanes <= 0 ? __mmask16(0) : __mmask16((1u << lanes) - 1u);
  }
}

/// Stores the mr x nr corner (the lanes of `mask`) of the tile: + residual, then clamp.
/// max(min, y) / min(max, y) return y (the second operand) when y is NaN, which keeps NaN
/// as the reference clamp does.
template <int MR, int NV>
inline void store_tile(const __m512 (&acc)[MR][NV], const __mmask16 (&mask)[NV], float* c, int64_t ldc, int64_t mr,
                       const GemmEpilogue& ep) {
  const __m512 lo = _mm512_set1_ps(ep.min), hi = _mm512_set1_ps(ep.max);
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
    if (i >= mr) break;
    float* row = c + i * ldc;
    const float* res = ep.residual != nullptr ? ep.residual + i * ldc : nullptr;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      __m512 y = acc[i][v];
      if (res != nullptr) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(mask[v], res + v * 16));
      y = _mm512_min_ps(hi, _mm512_max_ps(lo, y));
      _mm512_mask_storeu_ps(row + v * 16, mask[v], y);
    }
  }
}

}  // namespace
}  // namespace deployrt
