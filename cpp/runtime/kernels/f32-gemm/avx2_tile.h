// The parts of the AVX2 MR x 16 tile (two ymm vectors a row) that the direct
// (f32-gemm/avx2.cc) and indirect (f32-igemm/avx2.cc) microkernels share: the
// accumulators' start from the bias and the fused epilogue store.
//
// Included only by AVX2 translation units: the unnamed namespace gives each its own copy,
// compiled with its flags (a shared inline function could otherwise be kept, with AVX2
// code, for a caller on a lesser CPU; for that reason too clamp_tail is a local copy of
// kernels/epilogue.h's clamp).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/f32-gemm/gemm.h"

namespace deployrt {
namespace {

inline float clamp_tail(float v, float min, float max) { return v < min ? min : (v > max ? max : v); }

/// Every row's accumulators start from its bias (rows past mr, and all rows without a
/// bias, from zero).
template <int MR>
inline void init_accumulators(__m256 (&acc)[MR][2], const GemmEpilogue& ep, int64_t mr) {
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    const __m256 init = ep.bias != nullptr && i < mr ? _mm256_set1_ps(ep.bias[i]) : _mm256_setzero_ps();
    acc[i][0] = init;
    acc[i][1] = init;
  }
}

/// Stores the mr x nr corner of the tile: + residual, then clamp. Full-width tiles store
/// straight from registers; tails go through a small buffer (AVX2 has no cheap per-lane
/// masked stores) and the scalar epilogue.
template <int MR>
inline void store_tile(const __m256 (&acc)[MR][2], float* c, int64_t ldc, int64_t mr, int64_t nr,
                       const GemmEpilogue& ep) {
  constexpr int NR = 16;
  if (nr == NR) {
    // max(min, y) / min(max, y) return y when y is NaN: the reference's NaN-keeping clamp.
    const __m256 lo = _mm256_set1_ps(ep.min), hi = _mm256_set1_ps(ep.max);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      if (i >= mr) break;
      float* row = c + i * ldc;
      __m256 y0 = acc[i][0], y1 = acc[i][1];
      if (ep.residual != nullptr) {
        const float* res = ep.residual + i * ldc;
        y0 = _mm256_add_ps(y0, _mm256_loadu_ps(res));
        y1 = _mm256_add_ps(y1, _mm256_loadu_ps(res + 8));
      }
      _mm256_storeu_ps(row, _mm256_min_ps(hi, _mm256_max_ps(lo, y0)));
      _mm256_storeu_ps(row + 8, _mm256_min_ps(hi, _mm256_max_ps(lo, y1)));
    }
    return;
  }
  alignas(32) float tile[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    _mm256_store_ps(tile[i], acc[i][0]);
    _mm256_store_ps(tile[i] + 8, acc[i][1]);
  }
  for (int64_t i = 0; i < mr; ++i) {
    float* row = c + i * ldc;
    const float* res = ep.residual != nullptr ? ep.residual + i * ldc : nullptr;
    for (int64_t j = 0; j < nr; ++j) {
      const float v = res != nullptr ? tile[i][j] + res[j] : tile[i][j];
      row[j] = clamp_tail(v, ep.min, ep.max);
    }
  }
}

}  // namespace
}  // namespace deployrt
