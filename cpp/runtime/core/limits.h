// Documented limits of this runtime. An archive beyond them is refused with
// ErrorCode::kLimit (or kArchive where the format itself sets the bound), before
// anything proportional to the offending number is allocated.
#pragma once

#include <cstdint>

#include "deployrt/deployrt.h"

namespace deployrt {
namespace limits {

/// Largest archive file accepted: 64 GiB. Far above any CPU-deployable model; keeps
/// every offset comfortably inside size_t and int64 arithmetic.
constexpr uint64_t kMaxFileBytes = uint64_t{64} << 30;

/// Tensor rank bound, fixed by the format (dims are stored as 8 x i64).
constexpr int kMaxRank = deployrt::kMaxRank;

/// Section table entries (format: 1 <= section_count <= 16).
constexpr uint32_t kMaxSections = 16;

/// Nodes across all graphs. The loader is iterative everywhere, so this bounds memory
/// and load time, not stack depth: a 10^6-node chain loads fine.
constexpr uint32_t kMaxNodes = 1u << 24;

/// Values across all graphs (node outputs, inputs, constants).
constexpr uint32_t kMaxValues = 1u << 26;

/// Graphs (main graph + subgraphs) in one archive.
constexpr uint32_t kMaxGraphs = 1u << 16;

/// Nesting depth of subgraphs (graph 0 is depth 0; a GRAPH attribute adds one level).
/// The verifier computes depths iteratively, so this bounds what a future executor of
/// If/Loop may recurse through, not the verifier's own stack.
constexpr uint32_t kMaxSubgraphDepth = 32;

/// Activation arena (all intermediate tensors alive at once plus kernel scratch):
/// 16 GiB. A model whose planned arena exceeds this is refused at load with kLimit,
/// so "gigantic intermediate" archives fail fast instead of exhausting memory.
constexpr uint64_t kMaxArenaBytes = uint64_t{16} << 30;

}  // namespace limits
}  // namespace deployrt
