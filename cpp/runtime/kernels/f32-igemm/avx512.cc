// AVX-512 indirect microkernels (compiled with -mavx512f... for this file only, see
// CMakeLists.txt; called only when isa_level() says the CPU and OS support AVX-512).
//
// As f32-gemm/avx512.cc: MR rows x NV zmm vectors of accumulators stay in registers for
// the whole K loop; per k step one offset load, NV loads of B (always NR wide: igemm.h)
// and MR broadcasts of A feed MR*NV FMAs. Column tails are masked at the store only.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/f32-gemm/avx512_tile.h"
#include "kernels/f32-igemm/igemm.h"

// GCC 12 warns that _mm512_max_ps/_mm512_min_ps read an uninitialized value: its headers
// pass _mm512_undefined_ps() as the unused masked-merge source (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace deployrt {

namespace {

template <int MR, int NV>
inline void igemm_avx512(int64_t k, const float* a, const float* b, const int64_t* offsets, float* c, int64_t ldc,
                         int64_t mr, int64_t nr, const GemmEpilogue& ep) {
  __m512 acc[MR][NV];
  init_accumulators(acc, ep, mr);
  for (int64_t p = 0; p < k; ++p) {
    // The weights stream from memory once per call in late layers: fetched 48 steps
    // ahead as in f32-gemm/avx512.cc. A prefetch past the panel never faults.
    _mm_prefetch(reinterpret_cast<const char*>(a + 48 * MR), _MM_HINT_T0);
    const float* bp = b + offsets[p];
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_ps(bp + v * 16);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    a += MR;
  }
  __mmask16 mask[NV];
  column_masks(mask, nr);
  store_tile(acc, mask, c, ldc, mr, ep);
}

}  // namespace

// The entry points of the variant list (igemm.h): one per tile shape.
#define DEPLOYRT_DEFINE_F32_IGEMM_AVX512(MR, NR)                                                              \
  void f32_igemm_avx512_##MR##x##NR(int64_t k, const float* a, const float* b, const int64_t* offsets, float* c, \
                                    int64_t ldc, int64_t mr, int64_t nr, const GemmEpilogue& ep) {            \
    igemm_avx512<MR, NR / 16>(k, a, b, offsets, c, ldc, mr, nr, ep);                                          \
  }
DEPLOYRT_DEFINE_F32_IGEMM_AVX512(28, 16)
DEPLOYRT_DEFINE_F32_IGEMM_AVX512(16, 16)
DEPLOYRT_DEFINE_F32_IGEMM_AVX512(14, 32)
#undef DEPLOYRT_DEFINE_F32_IGEMM_AVX512

}  // namespace deployrt
#endif  // __x86_64__
