// The variant table every microkernel family shares: its X-macro list expanded into a
// static array, which `f32_<family>_variants(int* count)` returns with its length, and the
// pick of the highest ISA level the machine may run. The first entry of every list is the
// scalar variant, which runs everywhere, so a pick always exists.
#pragma once

#include <cstdint>

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

/// Loads per FMA of an MR x NR register tile: MR broadcasts of A and ceil(NR / 16) vectors of
/// B (one more for a column past a whole vector, as 8x49's) per k step, over the
/// MR * NR / 16 vector FMAs of that step (16 lanes: the AVX-512 count; the ratio only
/// orders tiles of one ISA level). 16x16 loads 17 operands per 16 FMAs, 8x32 10, 8x49 13
/// per 24.5.
template <class Variant>
double operand_loads_per_fma(const Variant& v) {
  const int vectors = (v.nr + 15) / 16 + (v.nr % 16 != 0 ? 1 : 0);
  return (v.mr + vectors) / (v.mr * v.nr / 16.0);
}

/// For a tiled family (GEMM, indirect GEMM): among the variants of the highest ISA level
/// not above `level` whose NR is a multiple of `nr_multiple`, the one computing the fewest
/// padded elements of an m x n output, ceil(m / MR) * MR * ceil(n / NR) * NR (ties: list
/// order, or with `ties_to_fewer_loads` the tile loading fewer operands per FMA, see
/// operand_loads_per_fma). A smaller tile reads more of A and B per FMA: it must save a
/// tenth of the padded work to win.
template <class Variant>
const Variant& least_padded_variant(const Variant* variants, int count, IsaLevel level, int64_t m, int64_t n,
                                    int nr_multiple, bool ties_to_fewer_loads = false) {
  const IsaLevel best_isa = highest_variant_isa(variants, count, level);
  const Variant* best = nullptr;
  int64_t best_padded = 0;
  for (int i = 0; i < count; ++i) {
    const Variant& v = variants[i];
    if (v.isa != best_isa || v.nr % nr_multiple != 0) continue;
    const int64_t padded = (m + v.mr - 1) / v.mr * v.mr * ((n + v.nr - 1) / v.nr * v.nr);
    const bool smaller = best != nullptr && v.mr * v.nr < best->mr * best->nr;
    const bool tie_won = ties_to_fewer_loads && best != nullptr && padded == best_padded &&
                         operand_loads_per_fma(v) < operand_loads_per_fma(*best);
    if (best == nullptr || tie_won || (smaller ? padded * 10 < best_padded * 9 : padded < best_padded)) {
      best = &v;
      best_padded = padded;
    }
  }
  return *best;  // the scalar variant is always in the list (its NR is a multiple of every caller's)
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
