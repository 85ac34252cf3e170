#include "kernels/f32-igemm/igemm.h"

#include "kernels/variant_table.h"

namespace deployrt {

const F32IgemmVariant* f32_igemm_variants(int* count) {
#define DEPLOYRT_F32_IGEMM_ENTRY(name, isa, mr, nr) {#name, IsaLevel::isa, mr, nr, f32_igemm_##name},
  static const F32IgemmVariant kVariants[] = {DEPLOYRT_F32_IGEMM_VARIANTS(DEPLOYRT_F32_IGEMM_ENTRY)};
#undef DEPLOYRT_F32_IGEMM_ENTRY
  return variant_list(kVariants, count);
}

const F32IgemmVariant& f32_igemm_select(IsaLevel level, int64_t rows, int64_t row_length) {
  int count = 0;
  const F32IgemmVariant* variants = f32_igemm_variants(&count);
  const IsaLevel best_isa = highest_variant_isa(variants, count, level);
  const F32IgemmVariant* best = nullptr;
  int64_t best_padded = 0;
  for (int i = 0; i < count; ++i) {
    const F32IgemmVariant& v = variants[i];
    if (v.isa != best_isa) continue;
    const int64_t padded = (rows + v.mr - 1) / v.mr * v.mr * ((row_length + v.nr - 1) / v.nr * v.nr);
    const bool smaller = best != nullptr && v.mr * v.nr < best->mr * best->nr;
    if (best == nullptr || (smaller ? padded * 10 < best_padded * 9 : padded < best_padded)) {
      best = &v;
      best_padded = padded;
    }
  }
  return *best;  // the scalar variant is always in the list
}

}  // namespace deployrt
