// AVX-512 microkernels (compiled with -mavx512f... for this file only, see CMakeLists.txt;
// called only when isa_level() says the CPU and OS support AVX-512).
//
// MR rows x NV zmm vectors of accumulators stay in registers for the whole K loop: per k
// step, NV loads of B and MR broadcasts of A feed MR*NV FMAs. 14x32 (28 accumulators) and
// 28x16 (28 accumulators, embedded broadcasts) both leave enough of the 32 zmm registers
// for the B vectors; 16x16 and 8x32 (16 accumulators, still enough to cover the FMA
// latency) fit outputs of 16, 24 or 32 rows without padding; 8x49 (24 zmm accumulators
// and one ymm) fits 7x7 outputs (49 columns) without padding. Column tails use AVX-512
// masks; row tails skip stores.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/f32-gemm/avx512_tile.h"
#include "kernels/f32-gemm/gemm.h"

// GCC 12 warns that _mm512_max_ps/_mm512_min_ps read an uninitialized value: its headers
// pass _mm512_undefined_ps() as the unused masked-merge source (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace deployrt {

namespace {

// acc += A x B over k steps. Masked: B is unpacked and the tile narrower than NR, so only
// the nr columns the tile stores are loaded (the rest of a row may lie past the input).
// kColumn (MR == 8 only): one more column, NV * 16, kept transposed in `column` (row i in
// lane i): the packed A panel's 8 rows of a step are one ymm load, times that column's
// B element broadcast, in one FMA. A 7x7 output's 49 columns then cost 3 zmm vectors and
// one ymm lane group per row block instead of 4 zmm vectors (98 % of the FMA lanes useful
// instead of 77 %).
template <int MR, int NV, bool kMasked, bool kColumn>
inline void accumulate(int64_t k, const float* a, const float* b, int64_t ldb, const __mmask16 (&mask)[NV],
                       __m512 (&acc)[MR][NV], __m256& column) {
  static_assert(!kColumn || MR == 8, "the transposed column holds 8 rows");
  for (int64_t p = 0; p < k; ++p) {
    // The weights (A) of late layers stream from memory once per call: fetching them 48
    // steps ahead measured 8-17% faster on ResNet-18/50 (neutral on MobileNetV2); B is a
    // panel packed moments ago, or activations just written, and already in cache. A
    // prefetch past the panel never faults. (For 8x49, 192 steps -- 6 KB ahead instead of
    // 1.5 KB -- looked faster in a microbenchmark but measured 8-13 % slower in ResNet-18.)
    _mm_prefetch(reinterpret_cast<const char*>(a + 48 * MR), _MM_HINT_T0);
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = kMasked ? _mm512_maskz_loadu_ps(mask[v], b + v * 16) : _mm512_loadu_ps(b + v * 16);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    if (kColumn) column = _mm256_fmadd_ps(_mm256_loadu_ps(a), _mm256_set1_ps(b[NV * 16]), column);
    a += MR;
    b += ldb;
  }
}

// MR x (NV * 16 + kColumn) tile: see accumulate.
template <int MR, int NV, bool kColumn = false>
inline void gemm_avx512(int64_t k, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, int64_t mr,
                        int64_t nr, const GemmEpilogue& ep) {
  constexpr int NR = NV * 16 + (kColumn ? 1 : 0);
  __m512 acc[MR][NV];
  init_accumulators(acc, ep, mr);
  __mmask16 mask[NV];
  column_masks(mask, nr);
  // The transposed column starts from the bias too (rows past mr start from zero).
  const __mmask8 rows = static_cast<__mmask8>(mr >= 8 ? 0xFF : (1u << mr) - 1u);
  __m256 column = kColumn && ep.bias != nullptr ? _mm256_maskz_loadu_ps(rows, ep.bias) : _mm256_setzero_ps();
  if (kColumn && nr == NR) {  // only a full-width tile has the extra column (and needs no mask)
    accumulate<MR, NV, false, kColumn>(k, a, b, ldb, mask, acc, column);
  } else if (ldb != NR && nr < NR) {
    accumulate<MR, NV, true, false>(k, a, b, ldb, mask, acc, column);
  } else {
    accumulate<MR, NV, false, false>(k, a, b, ldb, mask, acc, column);
  }
  store_tile(acc, mask, c, ldc, mr, ep);
  if (kColumn && nr == NR) {
    // One element per row, ldc apart, once per tile: the residual and the result go
    // through a small buffer element by element (a gather/scatter would need 32-bit
    // offsets, i.e. planes under 2^31 / 8 floats). The clamp keeps NaN as store_tile's.
    const __m256 lo = _mm256_set1_ps(ep.min), hi = _mm256_set1_ps(ep.max);
    alignas(32) float column_buffer[8] = {};
    if (ep.residual != nullptr) {
      for (int64_t i = 0; i < mr; ++i) column_buffer[i] = ep.residual[i * ldc + NV * 16];
    }
    __m256 y = _mm256_add_ps(column, _mm256_load_ps(column_buffer));
    y = _mm256_min_ps(hi, _mm256_max_ps(lo, y));
    _mm256_store_ps(column_buffer, y);
    for (int64_t i = 0; i < mr; ++i) c[i * ldc + NV * 16] = column_buffer[i];
  }
}

}  // namespace

// The entry points of the variant list (gemm.h): one per tile shape.
#define DEPLOYRT_DEFINE_F32_GEMM_AVX512(MR, NR)                                                             \
  void f32_gemm_avx512_##MR##x##NR(int64_t k, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, \
                                   int64_t mr, int64_t nr, const GemmEpilogue& ep) {                        \
    gemm_avx512<MR, NR / 16>(k, a, b, ldb, c, ldc, mr, nr, ep);                                             \
  }
DEPLOYRT_DEFINE_F32_GEMM_AVX512(14, 32)
DEPLOYRT_DEFINE_F32_GEMM_AVX512(28, 16)
DEPLOYRT_DEFINE_F32_GEMM_AVX512(16, 16)
DEPLOYRT_DEFINE_F32_GEMM_AVX512(8, 32)
#undef DEPLOYRT_DEFINE_F32_GEMM_AVX512

void f32_gemm_avx512_8x49(int64_t k, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, int64_t mr,
                          int64_t nr, const GemmEpilogue& ep) {
  gemm_avx512<8, 3, true>(k, a, b, ldb, c, ldc, mr, nr, ep);
}

}  // namespace deployrt
#endif  // __x86_64__
