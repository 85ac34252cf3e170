// The parts of the portable MR x NR tile that the direct (f32-gemm/scalar.cc) and indirect
// (f32-igemm/scalar.cc) microkernels share: the accumulators' start from the bias and the
// fused epilogue store. In an unnamed namespace like the SIMD tiles' headers, so each
// translation unit inlines its own copy.
#pragma once

#include <cstdint>

#include "kernels/epilogue.h"
#include "kernels/f32-gemm/gemm.h"

namespace deployrt {
namespace {

/// Every row's accumulators start from its bias (rows past mr, and all rows without a
/// bias, from zero).
template <int MR, int NR>
inline void init_accumulators(float (&acc)[MR][NR], const GemmEpilogue& ep, int64_t mr) {
  for (int i = 0; i < MR; ++i) {
    const float init = ep.bias != nullptr && i < mr ? ep.bias[i] : 0.0f;
    for (int j = 0; j < NR; ++j) acc[i][j] = init;
  }
}

/// Stores the mr x nr corner of the tile: + residual, then the NaN-keeping clamp.
template <int MR, int NR>
inline void store_tile(const float (&acc)[MR][NR], float* c, int64_t ldc, int64_t mr, int64_t nr,
                       const GemmEpilogue& ep) {
  for (int64_t i = 0; i < mr; ++i) {
    float* row = c + i * ldc;
    const float* res = ep.residual != nullptr ? ep.residual + i * ldc : nullptr;
    for (int64_t j = 0; j < nr; ++j) {
      const float v = res != nullptr ? acc[i][j] + res[j] : acc[i][j];
      row[j] = clamp_keep_nan(v, ep.min, ep.max);
    }
  }
}

}  // namespace
}  // namespace deployrt
