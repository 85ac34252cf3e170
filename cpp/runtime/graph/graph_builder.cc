#include "graph/graph_builder.h"

#include <cstring>
#include <map>
#include <string>

#include "core/str_cat.h"
#include "graph/subgraph.h"

namespace deployrt {
namespace {

using archive::ArchiveView;
using archive::kNone;

std::string node_label(const ArchiveView& view, uint32_t id) {
  archive::NodeEntry n = view.node(id);
  std::string label = str_cat("node ", id);
  if (n.name != 0) label += str_cat(" '", view.string(n.name), "'");
  if (n.source != 0) label += str_cat(" (", view.string(n.source), ")");
  return label;
}

// Every unknown op code of the graph, with the nodes that use it, in one message, so a
// user learns the whole list of missing ops at once.
Status check_ops_known(const ArchiveView& view, const archive::GraphEntry& graph) {
  std::map<uint32_t, std::vector<uint32_t>> unknown;  // op code -> nodes
  for (uint32_t i = graph.node_begin; i < graph.node_begin + graph.node_count; ++i) {
    uint32_t op = view.node(i).op;
    if (find_op(op) == nullptr) unknown[op].push_back(i);
  }
  if (unknown.empty()) return Status::Ok();
  constexpr size_t kNodesShown = 3;
  std::string message = str_cat("this runtime (deployrt ", version(), ") does not implement ", unknown.size(),
                                unknown.size() == 1 ? " op used by the archive: " : " ops used by the archive: ");
  bool first = true;
  for (const auto& [op, nodes] : unknown) {
    message += str_cat(first ? "" : "; ", op_name(op), " (code ", op, ") at ");
    first = false;
    for (size_t k = 0; k < nodes.size() && k < kNodesShown; ++k) {
      message += str_cat(k ? ", " : "", node_label(view, nodes[k]));
    }
    if (nodes.size() > kNodesShown) message += str_cat(" and ", nodes.size() - kNodesShown, " more");
  }
  return Status(ErrorCode::kUnsupported, message);
}

Attr copy_attr(const ArchiveView& view, const archive::AttrEntry& entry) {
  Attr attr;
  attr.name = std::string(view.string(entry.name));
  attr.type = static_cast<AttrType>(entry.type);
  switch (attr.type) {
    case AttrType::kInt:
      attr.i = static_cast<int64_t>(entry.a);
      break;
    case AttrType::kFloat:
      std::memcpy(&attr.f, &entry.a, sizeof attr.f);  // the f64 bits
      break;
    case AttrType::kInts:
      attr.ints.reserve(entry.b);
      for (uint64_t k = 0; k < entry.b; ++k) attr.ints.push_back(view.int_at(entry.a + k));
      break;
    case AttrType::kFloats:
      attr.floats.reserve(entry.b);
      for (uint64_t k = 0; k < entry.b; ++k) attr.floats.push_back(view.float_at(entry.a + k));
      break;
    case AttrType::kString:
      attr.s = std::string(view.string(static_cast<uint32_t>(entry.a)));
      break;
    case AttrType::kGraph:
      attr.i = static_cast<int64_t>(entry.a);
      break;
  }
  return attr;
}

}  // namespace

TensorDesc value_desc(const ArchiveView& view, uint32_t value_id) {
  archive::ValueEntry v = view.value(value_id);
  TensorDesc desc;
  desc.dtype = v.dtype;
  desc.rank = v.rank;
  std::memcpy(desc.dims, v.dims, sizeof desc.dims);
  return desc;
}

namespace {

Result<std::vector<PreparedNode>> prepare_nodes(const ArchiveView& view, uint32_t graph_index,
                                                const ConstantReleaser& release_constant,
                                                const ShapeBinding* binding, WeightCache* weight_cache = nullptr) {
  const archive::GraphEntry graph = view.graph(graph_index);
  Status known = check_ops_known(view, graph);
  if (!known.ok()) return known;

  std::vector<PreparedNode> nodes;
  nodes.reserve(graph.node_count);
  for (uint32_t id = graph.node_begin; id < graph.node_begin + graph.node_count; ++id) {
    const archive::NodeEntry entry = view.node(id);
    const OpDef* def = find_op(entry.op);
    PreparedNode node;
    NodeInfo& info = node.info;
    info.op = static_cast<OpKind>(entry.op);
    info.name = std::string(view.string(entry.name));
    info.source = std::string(view.string(entry.source));
    info.weight_cache = binding != nullptr ? binding->weight_cache : weight_cache;

    const bool too_few = entry.input_count < static_cast<uint32_t>(def->min_inputs);
    const bool too_many = def->max_inputs >= 0 && entry.input_count > static_cast<uint32_t>(def->max_inputs);
    if (too_few || too_many) {
      std::string expected = def->max_inputs < 0 ? str_cat("at least ", def->min_inputs)
                             : def->min_inputs == def->max_inputs
                                 ? str_cat(def->min_inputs)
                                 : str_cat(def->min_inputs, "..", def->max_inputs);
      return info.error(str_cat("node ", id, " has ", entry.input_count, " inputs, expected ", expected));
    }
    if (def->num_outputs >= 0 && entry.output_count != static_cast<uint32_t>(def->num_outputs)) {
      return info.error(str_cat("node ", id, " has ", entry.output_count, " outputs, expected ", def->num_outputs));
    }

    for (uint32_t k = 0; k < entry.attr_count; ++k) info.attrs.push_back(copy_attr(view, view.attr(entry.attr_begin + k)));
    for (uint32_t k = 0; k < entry.input_count; ++k) {
      const uint32_t vid = view.index_at(uint64_t{entry.input_begin} + k);
      node.inputs.push_back(vid);
      if (vid == kNone) {
        info.inputs.emplace_back();
        info.present.push_back(false);
        info.constant_data.push_back(nullptr);
        continue;
      }
      archive::ValueEntry value = view.value(vid);
      info.inputs.push_back(binding != nullptr ? (*binding->value_descs)[vid] : value_desc(view, vid));
      info.present.push_back(true);
      info.constant_data.push_back(value.kind == archive::ValueKind::kConstant ? view.tensor_data(value.tensor) : nullptr);
    }
    for (uint32_t k = 0; k < entry.output_count; ++k) node.outputs.push_back(view.index_at(uint64_t{entry.output_begin} + k));

    // Ops with GRAPH attributes (if, loop) prepare their subgraphs from infer(); the
    // callback lives only for that call (it refers to this function's arguments).
    for (const Attr& attr : info.attrs) {
      if (attr.type != AttrType::kGraph) continue;
      info.prepare_subgraph = [&view, &release_constant, binding](uint32_t g, const std::vector<TensorDesc>& descs) {
        return prepare_subprogram(view, g, descs, release_constant, binding);
      };
      break;
    }
    Status inferred = def->infer(info);
    info.prepare_subgraph = nullptr;
    if (!inferred.ok() && binding != nullptr) return Status(ErrorCode::kInput, inferred.message());
    if (!inferred.ok()) return inferred;
    // An attribute the op never looked up is not one of its attributes (docs/ops.md).
    // Format 1.0 has none of those; a later minor may add optional ones, so newer
    // archives keep them (ignored), as with reserved fields.
    if (view.version_minor() == 0) {
      for (size_t k = 0; k < info.attrs.size(); ++k) {
        if (!info.attrs[k].read) {
          return info.error(str_cat("attribute ", k, " '", info.attrs[k].name, "' (attr entry ", entry.attr_begin + k,
                                    ") is not an attribute of ", op_name(entry.op), " (docs/ops.md)"));
        }
      }
    }
    if (def->num_outputs < 0 && info.outputs.size() != node.outputs.size()) {
      return info.error(str_cat("node ", id, " has ", node.outputs.size(), " outputs, its subgraphs produce ",
                                info.outputs.size()));
    }
    if (info.outputs.size() != node.outputs.size()) {
      return Status(ErrorCode::kInternal, str_cat(op_name(entry.op), " node ", id, ": shape inference produced ",
                                                  info.outputs.size(), " outputs, the op declares ", def->num_outputs));
    }
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      if (binding != nullptr) {
        // Fixed and named dims must come out as archived; unnamed dynamic dims take any size.
        TensorDesc& expected = (*binding->value_descs)[node.outputs[k]];
        if (!info.outputs[k].fits(expected)) {
          return Status(ErrorCode::kInput,
                        info.error(str_cat("output ", k, " (value ", node.outputs[k], "): the archive allows ",
                                           expected.to_string(), " (-1: any size) for these inputs, shape inference gives ",
                                           info.outputs[k].to_string()))
                            .message());
        }
        expected = info.outputs[k];
        continue;
      }
      TensorDesc archived = value_desc(view, node.outputs[k]);
      if (!info.outputs[k].same_as(archived)) {
        return info.error(str_cat("output ", k, " (value ", node.outputs[k], "): the archive says ", archived.to_string(),
                                  ", shape inference gives ", info.outputs[k].to_string()));
      }
    }
    Result<std::unique_ptr<OpKernel>> kernel = def->create(info);
    if (!kernel.ok()) return kernel.status();
    node.kernel = std::move(kernel).value();
    if (!node.kernel) return Status(ErrorCode::kInternal, str_cat(op_name(entry.op), " node ", id, ": create() returned null"));
    if (release_constant) {  // the constants its kernel packed: it never reads them again
      for (size_t k = 0; k < info.constant_data.size(); ++k) {
        if (info.constant_data[k] != nullptr && !node.kernel->reads_input(k)) {
          release_constant(info.constant_data[k], static_cast<size_t>(info.inputs[k].numel()) * dtype_size(info.inputs[k].dtype));
        }
      }
    }
    nodes.push_back(std::move(node));
  }
  return Result<std::vector<PreparedNode>>(std::move(nodes));
}

}  // namespace

Status check_graph_ops(const ArchiveView& view, uint32_t graph_index) {
  return check_ops_known(view, view.graph(graph_index));
}

Result<std::vector<PreparedNode>> prepare_graph(const ArchiveView& view, uint32_t graph_index,
                                                const ConstantReleaser& release_constant, WeightCache* weight_cache) {
  return prepare_nodes(view, graph_index, release_constant, nullptr, weight_cache);
}

Result<std::vector<PreparedNode>> prepare_graph(const ArchiveView& view, uint32_t graph_index,
                                                const ShapeBinding& binding) {
  return prepare_nodes(view, graph_index, {}, &binding);
}

}  // namespace deployrt
