#include "ops/control_flow.h"

#include <string>

#include "ops/validate.h"

namespace deployrt {

Status prepare_branch(const NodeInfo& node, const char* attr, const std::vector<TensorDesc>& input_descs,
                      std::shared_ptr<const Executor>* out) {
  uint32_t graph = 0;
  Status st = node.get_graph(attr, &graph);
  if (!st.ok()) return st;
  if (!node.prepare_subgraph) {
    return Status(ErrorCode::kInternal, node.error(std::string("attribute '") + attr +
                                                   "': no subgraph preparer (the node is not part of a loaded archive)")
                                            .message());
  }
  Result<std::shared_ptr<const Executor>> program = node.prepare_subgraph(graph, input_descs);
  if (!program.ok()) {
    const Status& inner = program.status();
    return Status(inner.code(), node.error(std::string(attr) + " (graph " + std::to_string(graph) + "): " +
                                           inner.message()).message());
  }
  *out = std::move(program).value();
  return Status::Ok();
}

Status check_operand(const NodeInfo& node, size_t index, const char* role) {
  if (!input_present(node, index)) return node.error(std::string("input '") + role + "' is absent");
  return check_dtype_and_dims(node, index, role,
                              {DType::kF32, DType::kF16, DType::kF64, DType::kI8, DType::kU8, DType::kI16,
                               DType::kI32, DType::kI64, DType::kBool});
}

}  // namespace deployrt
