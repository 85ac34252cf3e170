// Static activation memory plan: one arena, offsets decided at load time from value
// lifetimes over the node order, so forward() allocates nothing but its outputs.
#pragma once

#include <cstdint>
#include <vector>

#include "deployrt/deployrt.h"

namespace deployrt {

/// One buffer to place: `bytes` live from step `first` (the node that writes it)
/// through step `last` (the last node that reads it) inclusive. A node's kernel
/// workspace is a buffer too, live at that node's step only: it shares the arena with
/// the activations instead of sitting on top of them.
struct BufferRequest {
  uint64_t bytes = 0;
  uint32_t first = 0;
  uint32_t last = 0;
};

struct MemoryPlan {
  std::vector<uint64_t> offsets;  // one per request, 64-byte aligned
  uint64_t arena_bytes = 0;       // end of the highest buffer
};

/// Places every buffer so that two buffers whose lifetimes overlap never overlap in
/// memory; each buffer is rounded up to 64 bytes (minimum 64). Several heuristics are run
/// and the smallest arena kept: offline greedy placement (buffers by size, then by
/// lifetime, each into the smallest gap between the buffers already placed that live at
/// the same time; at the lower bound, max over steps of the live bytes, on ResNet-18/50
/// and MobileNetV2) and online best-fit in node order (also for graphs too large for the
/// quadratic offline passes).
/// Fails with kLimit when the arena would exceed `limit_bytes`.
Result<MemoryPlan> plan_memory(const std::vector<BufferRequest>& requests, uint64_t limit_bytes);

}  // namespace deployrt
