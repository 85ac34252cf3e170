#include "graph/subgraph.h"

#include "core/limits.h"
#include "core/str_cat.h"

namespace deployrt {

Result<std::shared_ptr<const Executor>> prepare_subprogram(const archive::ArchiveView& view, uint32_t graph_index,
                                                           const std::vector<TensorDesc>& input_descs,
                                                           const ConstantReleaser& release_constant,
                                                           const ShapeBinding* binding) {
  const archive::GraphEntry graph = view.graph(graph_index);
  const std::string label =
      str_cat("graph ", graph_index, graph.name != 0 ? str_cat(" '", view.string(graph.name), "'") : std::string());
  const ErrorCode mismatch = binding != nullptr ? ErrorCode::kInput : ErrorCode::kArchive;
  if (input_descs.size() != graph.input_count) {
    return Status(ErrorCode::kArchive, str_cat(label, " has ", graph.input_count, " inputs, the node passes it ",
                                               input_descs.size(), " values"));
  }
  for (uint32_t k = 0; k < graph.input_count; ++k) {
    const uint32_t id = view.index_at(uint64_t{graph.input_begin} + k);
    const TensorDesc archived = binding != nullptr ? (*binding->value_descs)[id] : value_desc(view, id);
    const bool ok = binding != nullptr ? input_descs[k].fits(archived) : input_descs[k].same_as(archived);
    if (!ok) {
      return Status(mismatch, str_cat(label, " input ", k, " (value ", id, "): the archive says ", archived.to_string(),
                                      ", the node passes ", input_descs[k].to_string()));
    }
    if (binding != nullptr) (*binding->value_descs)[id] = input_descs[k];
  }
  Result<std::vector<PreparedNode>> nodes = binding != nullptr ? prepare_graph(view, graph_index, *binding)
                                                               : prepare_graph(view, graph_index, release_constant);
  if (!nodes.ok()) return nodes.status();
  Result<std::unique_ptr<Executor>> executor =
      Executor::create(view, graph_index, std::move(nodes).value(), limits::kMaxArenaBytes,
                       binding != nullptr ? binding->value_descs : nullptr);
  if (!executor.ok()) return executor.status();
  return std::shared_ptr<const Executor>(std::move(executor).value());
}

}  // namespace deployrt
