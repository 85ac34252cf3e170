#include "kernels/f32-gemv/gemv.h"

#include <algorithm>

#include "kernels/variant_table.h"

namespace deployrt {

const F32GemvVariant* f32_gemv_variants(int* count) {
#define DEPLOYRT_F32_GEMV_ENTRY(name, isa, mr, nr) {#name, IsaLevel::isa, mr, nr, f32_gemv_##name},
  static const F32GemvVariant kVariants[] = {DEPLOYRT_F32_GEMV_VARIANTS(DEPLOYRT_F32_GEMV_ENTRY)};
#undef DEPLOYRT_F32_GEMV_ENTRY
  return variant_list(kVariants, count);
}

const F32GemvVariant& f32_gemv_select(IsaLevel level) {
  return select_variant(f32_gemv_variants, level);
}

int64_t f32_gemv_packed_floats(int64_t out_features, int64_t in_features, int nr) {
  return (out_features + nr - 1) / nr * nr * in_features;
}

void f32_gemv_pack_weights(const float* w, int64_t out_features, int64_t in_features, int nr, float* out) {
  const int64_t panels = (out_features + nr - 1) / nr;
  for (int64_t j = 0; j < panels; ++j) {
    float* panel = out + j * in_features * nr;
    const int64_t valid = std::min<int64_t>(nr, out_features - j * nr);
    for (int64_t p = 0; p < in_features; ++p) {
      float* dst = panel + p * nr;
      for (int64_t l = 0; l < valid; ++l) dst[l] = w[(j * nr + l) * in_features + p];
      for (int64_t l = valid; l < nr; ++l) dst[l] = 0.0f;
    }
  }
}

}  // namespace deployrt
