// Static activation memory plan: one arena, offsets decided at load time from value
// lifetimes over the node order, so forward() allocates nothing but its outputs.
#pragma once

#include <cstdint>
#include <vector>

#include "deployrt/deployrt.h"

namespace deployrt {

/// One buffer to place: `bytes` live from step `first` (the node that writes it)
/// through step `last` (the last node that reads it) inclusive.
struct BufferRequest {
  uint64_t bytes = 0;
  uint32_t first = 0;
  uint32_t last = 0;
};

struct MemoryPlan {
  std::vector<uint64_t> offsets;  // one per request, 64-byte aligned
  uint64_t activation_bytes = 0;  // end of the highest buffer
  uint64_t workspace_offset = 0;  // kernel scratch, shared by all nodes (they run one at a time)
  uint64_t arena_bytes = 0;       // activation_bytes + aligned workspace
};

/// Greedy best-fit in node order: at each step the step's new buffers take the
/// smallest free block that fits (or extend the arena), then buffers whose last use is
/// this step are freed and coalesced with their neighbours. Two buffers whose lifetimes
/// overlap never overlap in memory; each buffer is rounded up to 64 bytes (minimum 64).
/// Fails with kLimit when the arena would exceed `limit_bytes`.
Result<MemoryPlan> plan_memory(const std::vector<BufferRequest>& requests, uint64_t workspace_bytes,
                               uint64_t limit_bytes);

}  // namespace deployrt
