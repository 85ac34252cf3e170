// AVX2+FMA indirect microkernel (compiled with -mavx2 -mfma for this file only, see
// CMakeLists.txt; called only when isa_level() allows AVX2).
//
// 6 rows x 2 ymm vectors, as f32-gemm/avx2.cc: 12 accumulators + 2 B vectors + 1
// broadcast of the 16 ymm registers. B rows are read NR wide whatever nr is (igemm.h).
// The epilogue store is f32-gemm/avx2_tile.h's, shared with the direct GEMM.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/f32-gemm/avx2_tile.h"
#include "kernels/f32-igemm/igemm.h"

namespace deployrt {

void f32_igemm_avx2_6x16(int64_t k, const float* a, const float* b, const int64_t* offsets, float* c, int64_t ldc,
                         int64_t mr, int64_t nr, const GemmEpilogue& ep) {
  constexpr int MR = 6;
  __m256 acc[MR][2];
  init_accumulators(acc, ep, mr);
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
  store_tile(acc, c, ldc, mr, nr, ep);
}

}  // namespace deployrt
#endif  // __x86_64__
