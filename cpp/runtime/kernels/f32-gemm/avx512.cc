// AVX-512 microkernels (compiled with -mavx512f... for this file only, see CMakeLists.txt;
// called only when isa_level() says the CPU and OS support AVX-512).
//
// MR rows x NV zmm vectors of accumulators stay in registers for the whole K loop: per k
// step, NV loads of B and MR broadcasts of A feed MR*NV FMAs. 14x32 (28 accumulators) and
// 28x16 (28 accumulators, embedded broadcasts) both leave enough of the 32 zmm registers
// for the B vectors; 16x16 and 8x32 (16 accumulators, still enough to cover the FMA
// latency) fit outputs of 16, 24 or 32 rows without padding. Column tails use AVX-512
// masks; row tails skip stores.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/f32-gemm/gemm.h"

// GCC 12 warns that _mm512_max_ps/_mm512_min_ps read an uninitialized value: its headers
// pass _mm512_undefined_ps() as the unused masked-merge source (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace deployrt {

namespace {

// acc += A x B over k steps. Masked: B is unpacked and the tile narrower than NR, so only
// the nr columns the tile stores are loaded (the rest of a row may lie past the input).
template <int MR, int NV, bool kMasked>
inline void accumulate(int64_t k, const float* a, const float* b, int64_t ldb, const __mmask16 (&mask)[NV],
                       __m512 (&acc)[MR][NV]) {
  for (int64_t p = 0; p < k; ++p) {
    // The weights (A) of late layers stream from memory once per call: fetching them 48
    // steps ahead measured 8-17% faster on ResNet-18/50 (neutral on MobileNetV2); B is a
    // panel packed moments ago, or activations just written, and already in cache. A
    // prefetch past the panel never faults.
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
    a += MR;
    b += ldb;
  }
}

template <int MR, int NV>
inline void gemm_avx512(int64_t k, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, int64_t mr,
                        int64_t nr, const GemmEpilogue& ep) {
  constexpr int NR = NV * 16;
  __m512 acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
    const __m512 init = ep.bias != nullptr && i < mr ? _mm512_set1_ps(ep.bias[i]) : _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = init;
  }
  __mmask16 mask[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const int64_t lanes = nr - v * 16;
    mask[v] = lanes >= 16 ? __mmask16(0xFFFF) : lanes <= 0 ? __mmask16(0) : __mmask16((1u << lanes) - 1u);
  }
  if (ldb != NR && nr < NR) {
    accumulate<MR, NV, true>(k, a, b, ldb, mask, acc);
  } else {
    accumulate<MR, NV, false>(k, a, b, ldb, mask, acc);
  }
  // Epilogue: + residual, then clamp. max(min, y) / min(max, y) return y (the second
  // operand) when y is NaN, which keeps NaN as the reference clamp does.
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

}  // namespace deployrt
#endif  // __x86_64__
