#include "graph/node_flops.h"

namespace deployrt {
namespace {

double numel(const TensorDesc& d) { return static_cast<double>(d.numel()); }

double first_output_numel(const NodeInfo& node) { return node.outputs.empty() ? 0.0 : numel(node.outputs[0]); }

// Product of the `kernel` attribute, or 1 if it is missing (infer() already rejected that).
double window_size(const NodeInfo& node) {
  const Attr* kernel = node.find("kernel");
  if (kernel == nullptr || kernel->type != AttrType::kInts) return 1.0;
  double size = 1.0;
  for (int64_t k : kernel->ints) size *= static_cast<double>(k);
  return size;
}

}  // namespace

double node_flops(const NodeInfo& node) {
  switch (node.op) {
    case OpKind::kConv2d: {
      // weight[OC, C/groups, KH, KW]: each output element is a dot product of C/groups*KH*KW terms.
      if (node.inputs.size() < 2 || node.inputs[1].rank != 4) return 0.0;
      const TensorDesc& w = node.inputs[1];
      return 2.0 * first_output_numel(node) * static_cast<double>(w.dims[1] * w.dims[2] * w.dims[3]);
    }
    case OpKind::kLinear: {
      // weight[out, in]; output numel = rows * out.
      if (node.inputs.size() < 2 || node.inputs[1].rank != 2) return 0.0;
      return 2.0 * first_output_numel(node) * static_cast<double>(node.inputs[1].dims[1]);
    }
    case OpKind::kMaxPool2d:
    case OpKind::kAvgPool2d: return first_output_numel(node) * window_size(node);
    case OpKind::kAdaptiveAvgPool2d:
    case OpKind::kMean: return node.inputs.empty() ? 0.0 : numel(node.inputs[0]);
    case OpKind::kFlatten:
    case OpKind::kReshape:
    case OpKind::kCat: return 0.0;
    default: return first_output_numel(node);
  }
}

}  // namespace deployrt
