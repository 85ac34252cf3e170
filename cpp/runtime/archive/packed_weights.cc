#include "archive/packed_weights.h"

#include <map>
#include <tuple>

#include "archive/bytes.h"
#include "archive/format.h"
#include "core/str_cat.h"

namespace deployrt {
namespace archive {
namespace {

Status fail(const std::string& message) { return Status(ErrorCode::kArchive, "PACKED_WEIGHTS: " + message); }

}  // namespace

Result<std::vector<PackedWeightEntry>> parse_packed_weights(const ArchiveView& view) {
  Result<OptionalSection> section = find_optional_section(view, kSectionPackedWeights, "PACKED_WEIGHTS");
  if (!section.ok()) return section.status();
  const uint8_t* s = section.value().data;
  const uint64_t size = section.value().size;
  std::vector<PackedWeightEntry> entries;
  if (s == nullptr) return entries;
  if (view.version_minor() < kVersionMinorPackedWeights) {
    return fail(str_cat("the section needs format version 1.4 or later, the archive is 1.", view.version_minor()));
  }
  if (size < kPackedWeightsHeader) return fail(str_cat("section is ", size, " bytes, shorter than its 16-byte header"));
  const uint32_t count = load_u32(s);
  for (uint64_t k = 4; k < kPackedWeightsHeader; ++k) {
    if (s[k] != 0) return fail(str_cat("reserved byte at section offset ", k, " is not zero"));
  }
  if (count == 0) return fail("count is 0, expected >= 1");
  const uint64_t expected = kPackedWeightsHeader + kPackedWeightEntry * uint64_t{count};  // < 2^38
  if (size != expected) return fail(str_cat("count ", count, " implies ", expected, " bytes, the section has ", size));

  // Which tensors values reference: a source must be a constant's tensor, packed data none.
  const uint32_t tensors = view.tensor_count();
  std::vector<bool> referenced(tensors, false);
  for (uint32_t v = 0; v < view.value_count(); ++v) {
    const ValueEntry value = view.value(v);
    if (value.kind == ValueKind::kConstant) referenced[value.tensor] = true;  // verified < tensor count
  }
  std::map<std::tuple<uint32_t, uint32_t, int64_t, int64_t, int64_t, uint32_t>, uint32_t> keys;
  std::map<uint32_t, uint32_t> data_owner;
  entries.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* e = s + kPackedWeightsHeader + uint64_t{i} * kPackedWeightEntry;
    PackedWeightEntry p;
    p.source_tensor = load_u32(e);
    p.layout = load_u32(e + 4);
    for (int k = 0; k < 3; ++k) p.params[k] = load_i64(e + 8 + 8 * k);
    p.isa = load_u32(e + 32);
    p.data_tensor = load_u32(e + 40);
    const std::string at = str_cat("entry ", i);
    if (load_u32(e + 36) != 0) return fail(str_cat(at, ": reserved field at entry offset 36 is ", load_u32(e + 36), ", expected 0"));
    if (load_u32(e + 44) != 0) return fail(str_cat(at, ": reserved field at entry offset 44 is ", load_u32(e + 44), ", expected 0"));
    if (p.source_tensor >= tensors) {
      return fail(str_cat(at, ": source_tensor ", p.source_tensor, " >= tensor count ", tensors));
    }
    if (!referenced[p.source_tensor]) {
      return fail(str_cat(at, ": source_tensor ", p.source_tensor, " is not the tensor of any constant value"));
    }
    if (view.tensor(p.source_tensor).dtype != DType::kF32) {
      return fail(str_cat(at, ": source_tensor ", p.source_tensor, " is ", dtype_name(view.tensor(p.source_tensor).dtype),
                          ", expected f32"));
    }
    if (p.layout < kPackedLayoutConvGemm || p.layout > kPackedLayoutWinograd) {
      return fail(str_cat(at, ": layout ", p.layout, " is not a layout code (expected 1..3)"));
    }
    if (p.isa < kPackedIsaScalar || p.isa > kPackedIsaAvx512) {
      return fail(str_cat(at, ": isa ", p.isa, " is not an ISA code (expected 1..3: scalar, avx2, avx512)"));
    }
    if (p.data_tensor >= tensors) return fail(str_cat(at, ": data_tensor ", p.data_tensor, " >= tensor count ", tensors));
    const TensorEntry data = view.tensor(p.data_tensor);
    if (data.dtype != DType::kF32 || data.rank != 1) {
      return fail(str_cat(at, ": data_tensor ", p.data_tensor, " is ", dtype_name(data.dtype), " of rank ", data.rank,
                          ", expected f32 of rank 1"));
    }
    if (referenced[p.data_tensor]) {
      return fail(str_cat(at, ": data_tensor ", p.data_tensor, " is referenced by a constant value, expected unreferenced"));
    }
    auto owner = data_owner.emplace(p.data_tensor, i);
    if (!owner.second) {
      return fail(str_cat(at, ": data_tensor ", p.data_tensor, " is already the data of entry ", owner.first->second));
    }
    auto key = keys.emplace(std::make_tuple(p.source_tensor, p.layout, p.params[0], p.params[1], p.params[2], p.isa), i);
    if (!key.second) {
      return fail(str_cat(at, ": duplicate key (source_tensor ", p.source_tensor, ", layout ", p.layout, ", params ",
                          p.params[0], ",", p.params[1], ",", p.params[2], ", isa ", p.isa, ") of entry ",
                          key.first->second));
    }
    entries.push_back(p);
  }
  return entries;
}

}  // namespace archive
}  // namespace deployrt
