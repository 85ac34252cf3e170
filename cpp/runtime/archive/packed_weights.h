// The optional PACKED_WEIGHTS section (kind 7, format 1.4; docs/archive-format.md):
// conv/linear weights packed at export by the runtime's own packing routines, so a
// Module at the same ISA level uses them in place from the memory map (file-backed
// pages, no packing, no anonymous copy) instead of packing at load. Each entry names
// the source constant's tensor, the packing (layout code and params: the WeightPackKey
// of ops/weight_cache.h), the ISA level whose kernels packed it, and a data tensor (an
// ordinary TENSORS entry that no value references) holding the packed bytes.
// parse_packed_weights runs after ArchiveView::verify and checks everything else.
#pragma once

#include <cstdint>
#include <vector>

#include "archive/reader.h"
#include "deployrt/deployrt.h"

namespace deployrt {
namespace archive {

constexpr uint32_t kSectionPackedWeights = 7;
constexpr uint16_t kVersionMinorPackedWeights = 4;
constexpr uint64_t kPackedWeightsHeader = 16, kPackedWeightEntry = 48;
// Layout codes: WeightPackKey::layout (ops/weight_cache.h kConvGemmPacking, ...).
constexpr uint32_t kPackedLayoutConvGemm = 1, kPackedLayoutGemv = 2, kPackedLayoutWinograd = 3;
// ISA codes: the public deployrt::Isa values of the level that packed the bytes.
constexpr uint32_t kPackedIsaScalar = 1, kPackedIsaAvx2 = 2, kPackedIsaAvx512 = 3;

struct PackedWeightEntry {
  uint32_t source_tensor = 0;  // the constant's tensor: its data is WeightPackKey::data
  uint32_t layout = 0;
  int64_t params[3] = {};
  uint32_t isa = 0;
  uint32_t data_tensor = 0;  // f32, rank 1: the packed bytes
};

/// The archive's prepacked weights; empty when it has no PACKED_WEIGHTS section.
/// kArchive naming the field, entry index, expected and actual value when malformed.
Result<std::vector<PackedWeightEntry>> parse_packed_weights(const ArchiveView& view);

}  // namespace archive
}  // namespace deployrt
