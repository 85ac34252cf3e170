// Turns graph 0 of a verified archive into prepared nodes: attributes copied, input
// descriptors and constant pointers set, op looked up, arity checked, shape inference
// run and compared with the archived value descriptors, kernel created.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "archive/reader.h"
#include "ops/op.h"

namespace deployrt {

struct PreparedNode {
  NodeInfo info;
  std::unique_ptr<OpKernel> kernel;
  std::vector<uint32_t> inputs;   // value ids; archive::kNone for an absent optional input
  std::vector<uint32_t> outputs;  // value ids
};

/// The TensorDesc of a verified value entry.
TensorDesc value_desc(const archive::ArchiveView& view, uint32_t value_id);

/// Prepares every node of `graph_index`, in execution order. All unknown op codes are
/// reported together in one kUnsupported error; other failures are kArchive.
Result<std::vector<PreparedNode>> prepare_graph(const archive::ArchiveView& view, uint32_t graph_index);

}  // namespace deployrt
