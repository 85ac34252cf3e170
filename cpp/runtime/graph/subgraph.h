// Subgraphs as sub-programs: the bodies of if and loop (docs/ops.md codes 17, 18). A
// subgraph is prepared like the main graph (ops checked, shapes inferred, kernels created)
// and planned into its own arena, which the owning node requests as its workspace, so it
// nests inside the caller's per-call arena with no executor support beyond Executor::run.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "graph/executor.h"
#include "graph/graph_builder.h"

namespace deployrt {

/// Prepares graph `graph_index` of `view` to run with inputs of `input_descs` (the node's
/// actual operands). Without `binding` the shapes are static: each input desc must equal
/// the archived graph input (kArchive otherwise). With a shape `binding`, each must fit the
/// archived desc (symbolic dims match any size; kInput otherwise) and the subgraph is
/// specialized for it, like the main graph. The sub-program's arena is planned under the
/// built-in limit; the owning node's workspace then counts against the Module's limit.
Result<std::shared_ptr<const Executor>> prepare_subprogram(const archive::ArchiveView& view, uint32_t graph_index,
                                                           const std::vector<TensorDesc>& input_descs,
                                                           const ConstantReleaser& release_constant,
                                                           const ShapeBinding* binding);

}  // namespace deployrt
