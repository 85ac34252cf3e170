// How ops split work over the thread pool: chunks big enough that scheduling costs little.
#pragma once

#include <cstdint>
#include <initializer_list>

namespace deployrt {

/// Roughly this many scalar operations per parallel_for chunk, so that tiny tensors run
/// inline and big ones are split evenly.
constexpr int64_t kMinChunkWork = 1 << 15;

/// Product of work factors, saturating at INT64_MAX (factors come from validated, but
/// possibly huge, shapes; only the magnitude matters for scheduling).
inline int64_t work_product(std::initializer_list<int64_t> factors) {
  int64_t product = 1;
  for (int64_t f : factors) {
    if (__builtin_mul_overflow(product, f, &product)) return INT64_MAX;
  }
  return product;
}

/// Grain (items per chunk) for items that cost `work_per_item` operations each.
inline int64_t grain_for(int64_t work_per_item) {
  if (work_per_item <= 0) return kMinChunkWork;
  const int64_t grain = kMinChunkWork / work_per_item;
  return grain < 1 ? 1 : grain;
}

}  // namespace deployrt
