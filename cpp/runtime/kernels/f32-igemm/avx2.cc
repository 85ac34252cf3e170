// AVX2+FMA indirect microkernel (compiled with -mavx2 -mfma for this file only, see
// CMakeLists.txt; called only when isa_level() allows AVX2).
//
// 6 rows x 2 ymm vectors, as f32-gemm/avx2.cc: 12 accumulators + 2 B vectors + 1
// broadcast of the 16 ymm registers. B rows are read NR wide whatever nr is (igemm.h).
// Full tiles store straight from registers; tails go through a small buffer (AVX2 has no
// cheap per-lane masked stores) and the scalar epilogue.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/f32-igemm/igemm.h"

namespace deployrt {

namespace {
// A local copy of kernels/epilogue.h's clamp: an inline function from a shared header
// compiled here would carry AVX2 code, and the linker may keep that copy for every caller.
float clamp_tail(float v, float min, float max) { return v < min ? min : (v > max ? max : v); }
}  // namespace

void f32_igemm_avx2_6x16(int64_t k, const float* a, const float* b, const int64_t* offsets, float* c, int64_t ldc,
                         int64_t mr, int64_t nr, const GemmEpilogue& ep) {
  constexpr int MR = 6, NR = 16;
  __m256 acc[MR][2];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    const __m256 init = ep.bias != nullptr && i < mr ? _mm256_set1_ps(ep.bias[i]) : _mm256_setzero_ps();
    acc[i][0] = init;
    acc[i][1] = init;
  }
  for (int64_t p = 0; p < k; ++p) {
    _mm_prefetch(reinterpret_cast<const char*>(a + 48 * MR), _MM_HINT_T0);  // as in f32-gemm/avx2.cc
    const float* bp = b + offsets[p];
    const __m256 b0 = _mm256_loadu_ps(bp);
    const __m256 b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
    a += MR;
  }
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

}  // namespace deployrt
#endif  // __x86_64__
