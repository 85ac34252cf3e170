// A small archive that uses every op of docs/ops.md (codes 1..16), built with the
// test ArchiveBuilder: the base of the C++ sweeps and of the per-op bad-input cases.
// It mirrors tests/every_op_model.py (the Python side exports the same structure).
#pragma once

#include <vector>

#include "archive_builder.h"

namespace dkr_test {

struct EveryOp {
  ArchiveBuilder b;
  uint32_t conv = 0, max_pool = 0, batch_norm = 0, avg_pool = 0, cat = 0, mean = 0, reshape = 0, softmax = 0;
};

inline std::vector<float> ramp(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>(static_cast<int>(i % 7) - 3);
  return v;
}

inline EveryOp every_op_model() {
  using deployrt::OpKind;
  using A = ArchiveBuilder;
  EveryOp m;
  ArchiveBuilder& b = m.b;
  const uint32_t x = b.input("x", DType::kF32, {1, 3, 8, 8});
  const uint32_t w = b.constant("conv.w", {4, 3, 3, 3}, ramp(108, 0.1f));
  const uint32_t bias = b.constant("conv.b", {4}, ramp(4, 0.05f));
  uint32_t y = b.node(OpKind::kConv2d, "conv", {x, w, bias}, {1, 4, 8, 8},
                      {A::ints_attr("stride", {1, 1}), A::ints_attr("pads", {1, 1, 1, 1}),
                       A::ints_attr("dilation", {1, 1}), A::int_attr("groups", 1)});
  m.conv = static_cast<uint32_t>(b.nodes.size() - 1);
  y = b.node(OpKind::kRelu, "relu", {y}, {1, 4, 8, 8});
  y = b.node(OpKind::kMaxPool2d, "max_pool", {y}, {1, 4, 4, 4},
             {A::ints_attr("kernel", {2, 2}), A::ints_attr("stride", {2, 2}), A::ints_attr("pads", {0, 0, 0, 0}),
              A::ints_attr("dilation", {1, 1}), A::int_attr("ceil_mode", 0)});
  m.max_pool = static_cast<uint32_t>(b.nodes.size() - 1);
  const uint32_t mean = b.constant("bn.mean", {4}, {0.1f, -0.2f, 0.3f, 0.0f});
  const uint32_t var = b.constant("bn.var", {4}, {1.0f, 0.5f, 2.0f, 1.5f});
  const uint32_t gamma = b.constant("bn.w", {4}, {1.0f, 0.9f, 1.1f, 1.2f});
  const uint32_t beta = b.constant("bn.b", {4}, {0.0f, 0.1f, -0.1f, 0.2f});
  y = b.node(OpKind::kBatchNorm, "bn", {y, mean, var, gamma, beta}, {1, 4, 4, 4}, {A::float_attr("eps", 1e-5)});
  m.batch_norm = static_cast<uint32_t>(b.nodes.size() - 1);
  const uint32_t a = b.node(OpKind::kAvgPool2d, "avg_pool", {y}, {1, 4, 2, 2},
                            {A::ints_attr("kernel", {2, 2}), A::ints_attr("stride", {2, 2}),
                             A::ints_attr("pads", {0, 0, 0, 0}), A::int_attr("ceil_mode", 0),
                             A::int_attr("count_include_pad", 1), A::int_attr("divisor_override", 0)});
  m.avg_pool = static_cast<uint32_t>(b.nodes.size() - 1);
  const uint32_t ad = b.node(OpKind::kAdaptiveAvgPool2d, "adaptive", {y}, {1, 4, 2, 2},
                             {A::ints_attr("output_size", {2, 2})});
  uint32_t c = b.node(OpKind::kCat, "cat", {a, ad}, {1, 8, 2, 2}, {A::int_attr("axis", 1)});
  m.cat = static_cast<uint32_t>(b.nodes.size() - 1);
  const uint32_t s = b.node(OpKind::kSigmoid, "sigmoid", {c}, {1, 8, 2, 2});
  const uint32_t h = b.node(OpKind::kHardtanh, "hardtanh", {c}, {1, 8, 2, 2},
                            {A::float_attr("min_val", -0.5), A::float_attr("max_val", 0.5)});
  c = b.node(OpKind::kMul, "mul", {s, h}, {1, 8, 2, 2});
  const uint32_t mu = b.node(OpKind::kMean, "mean", {c}, {1, 8, 1, 1},
                             {A::ints_attr("dims", {2, 3}), A::int_attr("keepdim", 1)});
  m.mean = static_cast<uint32_t>(b.nodes.size() - 1);
  c = b.node(OpKind::kAdd, "add", {c, mu}, {1, 8, 2, 2}, {A::float_attr("alpha", 1.0)});
  uint32_t f = b.node(OpKind::kFlatten, "flatten", {c}, {1, 32}, {A::int_attr("start_dim", 1), A::int_attr("end_dim", 3)});
  f = b.node(OpKind::kReshape, "reshape", {f}, {4, 8}, {A::ints_attr("shape", {4, 8})});
  m.reshape = static_cast<uint32_t>(b.nodes.size() - 1);
  const uint32_t fw = b.constant("fc.w", {5, 8}, ramp(40, 0.2f));
  const uint32_t fb = b.constant("fc.b", {5}, ramp(5, 0.1f));
  f = b.node(OpKind::kLinear, "fc", {f, fw, fb}, {4, 5});
  f = b.node(OpKind::kSoftmax, "softmax", {f}, {4, 5}, {A::int_attr("axis", 1)});
  m.softmax = static_cast<uint32_t>(b.nodes.size() - 1);
  b.output(f);
  return m;
}

}  // namespace dkr_test
