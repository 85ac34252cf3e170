// Shared by the control-flow ops if (17) and loop (18): preparing the sub-programs their
// GRAPH attributes name, and checking their pass-through operands.
#pragma once

#include <memory>
#include <vector>

#include "graph/executor.h"
#include "ops/op.h"

namespace deployrt {

/// Prepares the subgraph named by GRAPH attribute `attr` for inputs of `input_descs`
/// (NodeInfo::prepare_subgraph). A failure inside the subgraph keeps its error code and
/// is prefixed with this node and the attribute, so nested errors read outside-in.
Status prepare_branch(const NodeInfo& node, const char* attr, const std::vector<TensorDesc>& input_descs,
                      std::shared_ptr<const Executor>* out);

/// Input `index` (called `role`) is present with a valid dtype and dims (any dtype: a
/// captured or loop-carried value is only passed through to the subgraph).
Status check_operand(const NodeInfo& node, size_t index, const char* role);

/// Bytes of a tensor of `desc` (the verifier and infer() proved the product fits).
inline size_t desc_bytes(const TensorDesc& desc) {
  return static_cast<size_t>(desc.numel()) * dtype_size(desc.dtype);
}

}  // namespace deployrt
