// Turns graph 0 of a verified archive into prepared nodes: attributes copied, input
// descriptors and constant pointers set, op looked up, arity checked, shape inference
// run and compared with the archived value descriptors, kernel created.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
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

/// Called with each constant input's bytes once its node's kernel exists (kernels that
/// pack weights no longer need the archive's copy resident; see MmapFile).
using ConstantReleaser = std::function<void(const void* data, size_t bytes)>;

/// Prepares every node of `graph_index`, in execution order. All unknown op codes are
/// reported together in one kUnsupported error; other failures are kArchive.
Result<std::vector<PreparedNode>> prepare_graph(const archive::ArchiveView& view, uint32_t graph_index,
                                                const ConstantReleaser& release_constant = {});

}  // namespace deployrt
