// AVX2+FMA microkernel (compiled with -mavx2 -mfma for this file only, see CMakeLists.txt;
// called only when isa_level() allows AVX2).
//
// 6 rows x 2 ymm vectors: 12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm
// registers. Full tiles store straight from registers; tails go through a small buffer
// (AVX2 has no cheap per-lane masks) and the scalar epilogue.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/f32-gemm/avx2_tile.h"
#include "kernels/f32-gemm/gemm.h"

namespace deployrt {

namespace {

// acc += A x B over k steps. Masked: B is unpacked and the tile narrower than NR, so only
// the nr columns the tile stores are loaded (the rest of a row may lie past the input).
template <bool kMasked>
inline void accumulate(int64_t k, const float* a, const float* b, int64_t ldb, int64_t nr, __m256 (&acc)[6][2]) {
  constexpr int MR = 6;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(nr)), lane);
  const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(nr) - 8), lane);
  for (int64_t p = 0; p < k; ++p) {
    _mm_prefetch(reinterpret_cast<const char*>(a + 48 * MR), _MM_HINT_T0);  // as in avx512.cc
    const __m256 b0 = kMasked ? _mm256_maskload_ps(b, m0) : _mm256_loadu_ps(b);
    const __m256 b1 = kMasked ? _mm256_maskload_ps(b + 8, m1) : _mm256_loadu_ps(b + 8);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
    a += MR;
    b += ldb;
  }
}

}  // namespace

void f32_gemm_avx2_6x16(int64_t k, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, int64_t mr,
                        int64_t nr, const GemmEpilogue& ep) {
  constexpr int MR = 6, NV = 2, NR = 16;
  __m256 acc[MR][NV];
  init_accumulators(acc, ep, mr);
  if (ldb != NR && nr < NR) {
    accumulate<true>(k, a, b, ldb, nr, acc);
  } else {
    accumulate<false>(k, a, b, ldb, nr, acc);
  }
  store_tile(acc, c, ldc, mr, nr, ep);
}

}  // namespace deployrt
#endif  // __x86_64__
