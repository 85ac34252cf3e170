// The optional TEST_VECTORS section (kind 6, format 1.1; docs/archive-format.md): sample
// inputs and the outputs PyTorch computed for them, stored as entries of the TENSORS
// table. parse_test_vectors runs after ArchiveView::verify (which checked the section
// table, bounds and CRC of every section, known or not) and checks everything else:
// header fields, the exact size, every tensor index, and that each referenced tensor
// has the dtype and shape of the graph input/output it stands for.
#pragma once

#include <cstdint>
#include <vector>

#include "archive/reader.h"
#include "deployrt/deployrt.h"

namespace deployrt {
namespace archive {

constexpr uint32_t kSectionTestVectors = 6;
constexpr uint64_t kTestVectorsHeader = 64;

struct TestVectors {
  double rtol = 0;  // pass when max|actual - expected| <= rtol * max|expected| + atol, per output
  double atol = 0;
  uint32_t input_count = 0, output_count = 0;
  // vectors[v] = input_count input tensor indices, then output_count output tensor indices.
  std::vector<std::vector<uint32_t>> vectors;
};

/// The archive's test vectors; an empty `vectors` when the archive has no TEST_VECTORS
/// section. kArchive naming the field and expected/actual values when it is malformed.
Result<TestVectors> parse_test_vectors(const ArchiveView& view);

}  // namespace archive
}  // namespace deployrt
