// AVX2+FMA GEMV microkernel (compiled with -mavx2 -mfma for this file only, see
// CMakeLists.txt; called only when isa_level() allows AVX2).
//
// 1 row x 16 columns x 4 interleaved k partial sums = 8 ymm accumulators, leaving room
// for the two weight vectors and the broadcast in the 16 registers. Column tails use
// vmaskmov.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/f32-gemv/gemv.h"

namespace deployrt {

void f32_gemv_avx2_1x16(int64_t k, const float* x, int64_t /*ldx*/, const float* w, float* y, int64_t /*ldy*/,
                        int64_t /*mr*/, int64_t nr, const GemvEpilogue& ep) {
  constexpr int NV = 2, NR = 16, U = kGemvSplitK;
  static_assert(U == 4, "the combine below sums four partial sums");
  __m256 acc[U][NV];
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u) acc[u][0] = acc[u][1] = _mm256_setzero_ps();
  int64_t p = 0;
  for (; p + U <= k; p += U) {
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) {
      const __m256 xv = _mm256_broadcast_ss(x + p + u);
      acc[u][0] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w + (p + u) * NR), acc[u][0]);
      acc[u][1] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w + (p + u) * NR + 8), acc[u][1]);
    }
  }
  // The last k % U steps continue the interleaving: step p goes to partial sum p % U.
  for (int u = 0; p < k; ++p, ++u) {
    const __m256 xv = _mm256_broadcast_ss(x + p);
    acc[u][0] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w + p * NR), acc[u][0]);
    acc[u][1] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w + p * NR + 8), acc[u][1]);
  }
  const __m256 lo = _mm256_set1_ps(ep.min), hi = _mm256_set1_ps(ep.max);
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int v = 0; v < NV; ++v) {
    const int64_t lanes = nr - v * 8;
    if (lanes <= 0) break;
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(lanes > 8 ? 8 : lanes)), iota);
    __m256 s = _mm256_add_ps(_mm256_add_ps(acc[0][v], acc[1][v]), _mm256_add_ps(acc[2][v], acc[3][v]));
    if (ep.bias != nullptr) s = _mm256_add_ps(s, _mm256_maskload_ps(ep.bias + v * 8, mask));
    if (ep.residual != nullptr) s = _mm256_add_ps(s, _mm256_maskload_ps(ep.residual + v * 8, mask));
    // max(lo, s) / min(hi, s) return s when s is NaN: the reference's NaN-keeping clamp.
    _mm256_maskstore_ps(y + v * 8, mask, _mm256_min_ps(hi, _mm256_max_ps(lo, s)));
  }
}

}  // namespace deployrt
#endif  // __x86_64__
