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
  return least_padded_variant(variants, count, level, rows, row_length, 1);
}

}  // namespace deployrt
