// AVX-512 GEMV microkernel (compiled with -mavx512f... for this file only, see
// CMakeLists.txt; called only when isa_level() allows AVX-512).
//
// 2 rows x 32 columns x 4 interleaved k partial sums = 16 zmm accumulators: per k step
// two 64-byte weight loads feed 2 * 2 FMAs, and the 4 independent chains per output hide
// the FMA latency even for one row (batch-1 linear). Column tails use masks.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/f32-gemv/gemv.h"

// GCC 12 warns that _mm512_max_ps/_mm512_min_ps read an uninitialized value: its headers
// pass _mm512_undefined_ps() as the unused masked-merge source (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace deployrt {

void f32_gemv_avx512_2x32(int64_t k, const float* x, int64_t ldx, const float* w, float* y, int64_t ldy, int64_t mr,
                          int64_t nr, const GemvEpilogue& ep) {
  constexpr int MR = 2, NV = 2, NR = 32, U = kGemvSplitK;
  static_assert(U == 4, "the combine below sums four partial sums");
  // A missing second row re-reads the first; its results are not stored.
  const float* xr[MR] = {x, mr > 1 ? x + ldx : x};
  __m512 acc[MR][U][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int u = 0; u < U; ++u)
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) acc[i][u][v] = _mm512_setzero_ps();
  int64_t p = 0;
  for (; p + U <= k; p += U) {
    // The weights stream from memory once per call (5 MB for MobileNetV2's classifier):
    // fetch them 16 steps ahead, as the GEMM microkernels do.
    _mm_prefetch(reinterpret_cast<const char*>(w + (p + 16) * NR), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(w + (p + 16) * NR + 16), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(w + (p + 17) * NR), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(w + (p + 17) * NR + 16), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(w + (p + 18) * NR), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(w + (p + 18) * NR + 16), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(w + (p + 19) * NR), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(w + (p + 19) * NR + 16), _MM_HINT_T0);
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) {
      const __m512 w0 = _mm512_loadu_ps(w + (p + u) * NR), w1 = _mm512_loadu_ps(w + (p + u) * NR + 16);
#pragma GCC unroll 2
      for (int i = 0; i < MR; ++i) {
        const __m512 xv = _mm512_set1_ps(xr[i][p + u]);
        acc[i][u][0] = _mm512_fmadd_ps(xv, w0, acc[i][u][0]);
        acc[i][u][1] = _mm512_fmadd_ps(xv, w1, acc[i][u][1]);
      }
    }
  }
  // The last k % U steps continue the interleaving: step p goes to partial sum p % U.
  for (int u = 0; p < k; ++p, ++u) {
    const __m512 w0 = _mm512_loadu_ps(w + p * NR), w1 = _mm512_loadu_ps(w + p * NR + 16);
    for (int i = 0; i < MR; ++i) {
      const __m512 xv = _mm512_set1_ps(xr[i][p]);
      acc[i][u][0] = _mm512_fmadd_ps(xv, w0, acc[i][u][0]);
      acc[i][u][1] = _mm512_fmadd_ps(xv, w1, acc[i][u][1]);
    }
  }
  const __m512 lo = _mm512_set1_ps(ep.min), hi = _mm512_set1_ps(ep.max);
  __mmask16 mask[NV];
  for (int v = 0; v < NV; ++v) {
    const int64_t lanes = nr - v * 16;
    mask[v] = lanes >= 16 ? __mmask16(0xFFFF) : lanes <= 0 ? __mmask16(0) : __mmask16((1u << lanes) - 1u);
  }
  for (int i = 0; i < MR; ++i) {
    if (i >= mr) break;
    for (int v = 0; v < NV; ++v) {
      __m512 s = _mm512_add_ps(_mm512_add_ps(acc[i][0][v], acc[i][1][v]), _mm512_add_ps(acc[i][2][v], acc[i][3][v]));
      if (ep.bias != nullptr) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(mask[v], ep.bias + v * 16));
      if (ep.residual != nullptr) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(mask[v], ep.residual + i * ldy + v * 16));
      // max(lo, s) / min(hi, s) return s when s is NaN: the reference's NaN-keeping clamp.
      _mm512_mask_storeu_ps(y + i * ldy + v * 16, mask[v], _mm512_min_ps(hi, _mm512_max_ps(lo, s)));
    }
  }
}

}  // namespace deployrt
#endif  // __x86_64__
