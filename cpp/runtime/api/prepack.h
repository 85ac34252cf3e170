// Export-time weight packing (format 1.4 PACKED_WEIGHTS): the packed bytes an archive
// stores must be exactly what this runtime's packing routines produce, so they are made
// by loading the archive with this runtime and collecting every weight its ops packed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "deployrt/deployrt.h"

namespace deployrt {

struct PrepackedRecord {
  uint32_t source_tensor = 0;  // the constant's TENSORS index
  uint32_t layout = 0;         // archive layout code (= WeightPackKey::layout)
  int64_t params[3] = {};
  uint32_t isa = 0;            // archive ISA code (= deployrt::Isa) of the level that packed
  std::vector<uint8_t> bytes;  // the packed weight
};

/// Loads the archive at `path` with kernels chosen up to `max_isa` (the host's best
/// level when it is lower) and returns every weight its ops packed, ordered by source
/// tensor then layout. Weights of subgraphs (if/loop) and of archives with symbolic dims
/// (prepared per input shape) are packed at run time and are not returned.
Result<std::vector<PrepackedRecord>> prepack_weights(const std::string& path, Isa max_isa);

}  // namespace deployrt
