// The variant table every microkernel family shares: its X-macro list expanded into a
// static array, which `f32_<family>_variants(int* count)` returns with its length, and the
// pick of the highest ISA level the machine may run. The first entry of every list is the
// scalar variant, which runs everywhere, so a pick always exists.
#pragma once

#include "cpu/cpu_features.h"

namespace deployrt {

/// `table` with its length in `*count`.
template <class Variant, int N>
const Variant* variant_list(const Variant (&table)[N], int* count) {
  *count = N;
  return table;
}

/// The highest ISA level of `variants[0, count)` that is not above `level`.
template <class Variant>
IsaLevel highest_variant_isa(const Variant* variants, int count, IsaLevel level) {
  IsaLevel best = variants[0].isa;
  for (int i = 1; i < count; ++i) {
    if (variants[i].isa <= level && variants[i].isa > best) best = variants[i].isa;
  }
  return best;
}

/// The first variant of the family's list (`f32_<family>_variants`) of the highest ISA
/// level not above `level`.
template <class Variant>
const Variant& select_variant(const Variant* (*list)(int* count), IsaLevel level) {
  int count = 0;
  const Variant* variants = list(&count);
  const IsaLevel isa = highest_variant_isa(variants, count, level);
  int i = 0;
  while (variants[i].isa != isa) ++i;
  return variants[i];
}

}  // namespace deployrt
