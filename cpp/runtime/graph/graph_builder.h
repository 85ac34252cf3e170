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
/// reported together in one kUnsupported error; other failures are kArchive. With a
/// weight_cache, ops take packed weights through it (prepacked archive weights in place).
Result<std::vector<PreparedNode>> prepare_graph(const archive::ArchiveView& view, uint32_t graph_index,
                                                const ConstantReleaser& release_constant = {},
                                                WeightCache* weight_cache = nullptr);

/// kUnsupported listing every op code of `graph_index` this runtime lacks (prepare_graph
/// checks this first; a Module with dynamic shapes checks it at load, before any shape is known).
Status check_graph_ops(const archive::ArchiveView& view, uint32_t graph_index);

/// How prepare_graph specializes a graph whose archive has symbolic dims (format 1.2) for
/// one set of concrete input shapes (api/shape_specializer.h).
struct ShapeBinding {
  /// One entry per value id: graph inputs hold the caller's concrete shapes; every other
  /// value holds its archived desc with named symbols replaced by their bound sizes, so a
  /// dim < 0 is an unnamed dynamic dim. Node outputs are overwritten with the inferred,
  /// concrete descs as nodes are prepared (later nodes read them).
  std::vector<TensorDesc>* value_descs = nullptr;
  /// Packed weights shared by every specialization (ops/weight_cache.h).
  WeightCache* weight_cache = nullptr;
};

/// As above, with `binding` choosing the concrete shapes. An op that cannot take them
/// (shape inference fails, or its output contradicts a fixed archived dim) is a kInput
/// error naming the node: the inputs, not the archive, are what is wrong.
Result<std::vector<PreparedNode>> prepare_graph(const archive::ArchiveView& view, uint32_t graph_index,
                                                const ShapeBinding& binding);

}  // namespace deployrt
