// The small model the prepacked-weights suites (packed_weights_test, tensor_crcs_test) run:
// x[1,16,16,16] -> conv 3x3 (Winograd: 16 tiles) -> relu -> conv 1x1 16->32 (im2col-free
// GEMM) -> global average pool -> flatten -> linear 32->10 (GEMV): one weight per layout.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "api/prepack.h"
#include "archive_builder.h"
#include "every_op_archive.h"

namespace dkr_test {

// Tensors, in this order: 0 c1.w (Winograd 3x3), 1 c1.b, 2 c2.w (GEMM 1x1), 3 fc.w (GEMV), 4 c2.b.
inline void add_prepacked_test_graph(ArchiveBuilder& b) {
  using A = ArchiveBuilder;
  using deployrt::DType;
  using deployrt::OpKind;
  const auto conv_attrs = [](int64_t pad) {
    return std::vector<A::AttrSpec>{A::ints_attr("stride", {1, 1}), A::ints_attr("pads", {pad, pad, pad, pad}),
                                    A::ints_attr("dilation", {1, 1}), A::int_attr("groups", 1)};
  };
  const uint32_t x = b.input("x", DType::kF32, {1, 16, 16, 16});
  const uint32_t w1 = b.constant("c1.w", {16, 16, 3, 3}, ramp(16 * 16 * 9, 0.01f));
  const uint32_t b1 = b.constant("c1.b", {16}, ramp(16, 0.1f));
  const uint32_t w2 = b.constant("c2.w", {32, 16, 1, 1}, ramp(32 * 16, 0.02f));
  const uint32_t fw = b.constant("fc.w", {10, 32}, ramp(320, 0.03f));
  const uint32_t b2 = b.constant("c2.b", {32}, ramp(32, 0.2f));
  uint32_t v = b.node(OpKind::kConv2d, "c1", {x, w1, b1}, {1, 16, 16, 16}, conv_attrs(1));
  v = b.node(OpKind::kRelu, "relu", {v}, {1, 16, 16, 16});
  v = b.node(OpKind::kConv2d, "c2", {v, w2, b2}, {1, 32, 16, 16}, conv_attrs(0));
  v = b.node(OpKind::kAdaptiveAvgPool2d, "gap", {v}, {1, 32, 1, 1}, {A::ints_attr("output_size", {1, 1})});
  v = b.node(OpKind::kFlatten, "flatten", {v}, {1, 32}, {A::int_attr("start_dim", 1), A::int_attr("end_dim", 3)});
  v = b.node(OpKind::kLinear, "fc", {v, fw}, {1, 10});
  b.output(v);
}

// Appends each record's packed bytes to `b` as a data tensor ("packed.<i>") and returns the
// PACKED_WEIGHTS section payload naming them.
inline std::vector<uint8_t> packed_weights_payload(ArchiveBuilder& b,
                                                   const std::vector<deployrt::PrepackedRecord>& records) {
  std::vector<uint8_t> s(16, 0);
  put_u32(s, 0, static_cast<uint32_t>(records.size()));
  for (size_t i = 0; i < records.size(); ++i) {
    const deployrt::PrepackedRecord& r = records[i];
    std::vector<float> floats(r.bytes.size() / 4);
    std::memcpy(floats.data(), r.bytes.data(), floats.size() * 4);
    const uint32_t data = b.tensor("packed." + std::to_string(i), {static_cast<int64_t>(floats.size())}, floats);
    const size_t at = s.size();
    s.resize(at + 48, 0);
    put_u32(s, at, r.source_tensor);
    put_u32(s, at + 4, r.layout);
    std::memcpy(&s[at + 8], r.params, 24);
    put_u32(s, at + 32, r.isa);
    put_u32(s, at + 40, data);
  }
  return s;
}

}  // namespace dkr_test
