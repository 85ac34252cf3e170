// The archive verifier and its in-place accessors: the single trust boundary of the
// runtime. ArchiveView::verify checks every rule of docs/archive-format.md, in the
// order header -> section table -> strings -> tensors -> graph -> metadata, before
// anything else reads the bytes; after it succeeds, the accessors below decode entries
// straight from the buffer (no parsing copies) and every index they return is in range.
//
// Rules beyond bounds that the verifier also enforces: values are SSA (defined once,
// before use, in the graph that uses them), node outputs are node-output values,
// attribute payloads match their type tags, subgraph references form no cycle.
// A subgraph may only use its own inputs, constants and its own nodes' outputs: captures
// are explicit (if/loop pass outer values in as node inputs; docs/ops.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include "archive/format.h"
#include "deployrt/deployrt.h"

namespace deployrt {
namespace archive {

struct TensorEntry {
  uint32_t name = 0;
  DType dtype = DType::kInvalid;
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  uint64_t data_offset = 0;  // from the start of WEIGHTS
  uint64_t nbytes = 0;
};

struct ValueEntry {
  uint32_t name = 0;
  ValueKind kind = ValueKind::kNodeOutput;
  DType dtype = DType::kInvalid;
  int rank = 0;
  uint32_t tensor = kNone;
  uint32_t flags = 0;  // kValueFlagSymbolic: dims < 0 are symbolic, -(1 + name string index)
  int64_t dims[kMaxRank] = {};
};

struct NodeEntry {
  uint32_t op = 0;
  uint32_t name = 0;
  uint32_t source = 0;
  uint32_t input_begin = 0, input_count = 0;
  uint32_t output_begin = 0, output_count = 0;
  uint32_t attr_begin = 0, attr_count = 0;
};

struct GraphEntry {
  uint32_t name = 0;
  uint32_t node_begin = 0, node_count = 0;
  uint32_t input_begin = 0, input_count = 0;
  uint32_t output_begin = 0, output_count = 0;
};

struct AttrEntry {
  uint32_t name = 0;
  uint32_t type = 0;  // AttrType code (1..6)
  uint64_t a = 0;
  uint64_t b = 0;
};

/// A verified archive. Does not own the bytes: they must outlive the view.
class ArchiveView {
 public:
  ArchiveView() = default;

  /// CRC-32C of a section's bytes (core/crc32c.h), as verify() computes it: crc32c itself
  /// by default; a Module passes one that spreads a large section over its threads.
  using Checksum = std::function<uint32_t(const uint8_t* data, size_t size)>;

  /// How verify() checks the tensor bytes. kWholeSection: the WEIGHTS section CRC, always.
  /// kPerTensorWhenAvailable: when the archive has a TENSOR_CRCS section (format 1.5), the
  /// WEIGHTS CRC is not computed (weights_verified() is false) and the caller must check
  /// tensor_crc() of every tensor it reads before using its bytes (api/tensor_checksums.h);
  /// without the section, as kWholeSection.
  enum class WeightsCheck { kWholeSection, kPerTensorWhenAvailable };

  /// Verifies `size` bytes at `data` (any alignment). kArchive with a message naming the
  /// field, offset/index, expected and actual on any violation; kLimit above limits.h.
  static Result<ArchiveView> verify(const uint8_t* data, size_t size, const Checksum& checksum = nullptr,
                                    WeightsCheck weights_check = WeightsCheck::kWholeSection);

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  uint16_t version_minor() const { return version_minor_; }

  uint32_t string_count() const { return string_count_; }
  std::string_view string(uint32_t index) const;

  uint32_t tensor_count() const { return tensor_count_; }
  TensorEntry tensor(uint32_t index) const;
  /// Start of a tensor's data inside the buffer.
  const uint8_t* tensor_data(uint32_t index) const;

  uint32_t value_count() const { return value_count_; }
  uint32_t node_count() const { return node_count_; }
  uint32_t graph_count() const { return graph_count_; }
  uint32_t attr_count() const { return attr_count_; }
  ValueEntry value(uint32_t index) const;
  NodeEntry node(uint32_t index) const;
  GraphEntry graph(uint32_t index) const;
  AttrEntry attr(uint32_t index) const;
  int64_t int_at(uint64_t index) const;
  double float_at(uint64_t index) const;
  uint32_t index_at(uint64_t index) const;

  std::string_view metadata() const;

  /// False only when verify() skipped the WEIGHTS section CRC for per-tensor checks.
  bool weights_verified() const { return weights_verified_; }
  /// The archive has a TENSOR_CRCS section (verified: one CRC per tensor).
  bool has_tensor_crcs() const { return tensor_crcs_at_ != 0; }
  /// The stored CRC-32C of tensor `index`'s nbytes of data; only with has_tensor_crcs().
  uint32_t tensor_crc(uint32_t index) const;

 private:
  friend class Verifier;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  uint16_t version_minor_ = 0;
  bool weights_verified_ = true;
  uint64_t tensor_crcs_at_ = 0;  // absolute offset of the TENSOR_CRCS section, 0: none
  // Absolute offsets/sizes of the five known sections, indexed by kind - 1.
  uint64_t section_offset_[kNumSectionKinds] = {};
  uint64_t section_size_[kNumSectionKinds] = {};
  uint32_t string_count_ = 0;
  uint32_t tensor_count_ = 0;
  uint32_t value_count_ = 0, node_count_ = 0, graph_count_ = 0, attr_count_ = 0;
  uint32_t int_count_ = 0, float_count_ = 0, index_count_ = 0;
  // Absolute offsets of the graph section's arrays.
  uint64_t values_at_ = 0, nodes_at_ = 0, graphs_at_ = 0, attrs_at_ = 0, ints_at_ = 0, floats_at_ = 0,
           indices_at_ = 0;

  const uint8_t* section(SectionKind kind) const {
    return data_ + section_offset_[static_cast<uint32_t>(kind) - 1];
  }
};

/// An optional section kind of a later minor (TEST_VECTORS, PACKED_WEIGHTS) that appears at
/// most once: its bytes (null and 0 when absent). `name` prefixes the error when it appears
/// twice. The verifier has proved every section table entry in bounds.
struct OptionalSection {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
};
Result<OptionalSection> find_optional_section(const ArchiveView& view, uint32_t kind, const char* name);

/// True when bytes [p, p+n) are valid UTF-8 (no overlongs, surrogates or code points
/// above U+10FFFF). Sets *bad_at to the offset of the first bad byte otherwise.
bool is_valid_utf8(const uint8_t* p, size_t n, size_t* bad_at);

}  // namespace archive
}  // namespace deployrt
