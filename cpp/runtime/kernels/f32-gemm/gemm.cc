#include "kernels/f32-gemm/gemm.h"

#include <algorithm>

#include "kernels/variant_table.h"

namespace deployrt {

const F32GemmVariant* f32_gemm_variants(int* count) {
#define DEPLOYRT_F32_GEMM_ENTRY(name, isa, mr, nr) {#name, IsaLevel::isa, mr, nr, f32_gemm_##name},
  static const F32GemmVariant kVariants[] = {DEPLOYRT_F32_GEMM_VARIANTS(DEPLOYRT_F32_GEMM_ENTRY)};
#undef DEPLOYRT_F32_GEMM_ENTRY
  return variant_list(kVariants, count);
}

const F32GemmVariant& f32_gemm_select(IsaLevel level, int64_t m, int64_t n, int nr_multiple) {
  int count = 0;
  const F32GemmVariant* variants = f32_gemm_variants(&count);
  return least_padded_variant(variants, count, level, m, n, nr_multiple, /*ties_to_fewer_loads=*/true);
}

void f32_gemm_pack_a(const float* w, int64_t rows, int64_t k, int64_t ldw, int64_t row0, int mr, float* out) {
  const int64_t valid = std::max<int64_t>(0, std::min<int64_t>(mr, rows - row0));
  // A transpose, in blocks of kBlock columns: each row's run is read contiguously into a
  // small buffer, then written out step by step as whole [MR] groups (a weight load packs
  // tens of megabytes this way; element by element it read MR strided streams per step).
  constexpr int64_t kBlock = 16;
  float block[kBlock][64];
  if (mr > 64) {  // wider than any microkernel; element by element
    for (int64_t p = 0; p < k; ++p) {
      float* dst = out + p * mr;
      for (int64_t i = 0; i < valid; ++i) dst[i] = w[(row0 + i) * ldw + p];
      for (int64_t i = valid; i < mr; ++i) dst[i] = 0.0f;
    }
    return;
  }
  for (int64_t p0 = 0; p0 < k; p0 += kBlock) {
    const int64_t width = std::min<int64_t>(kBlock, k - p0);
    for (int64_t i = 0; i < valid; ++i) {
      const float* src = w + (row0 + i) * ldw + p0;
      for (int64_t q = 0; q < width; ++q) block[q][i] = src[q];
    }
    for (int64_t q = 0; q < width; ++q) {
      float* dst = out + (p0 + q) * mr;
      for (int64_t i = 0; i < valid; ++i) dst[i] = block[q][i];
      for (int64_t i = valid; i < mr; ++i) dst[i] = 0.0f;
    }
  }
}

}  // namespace deployrt
