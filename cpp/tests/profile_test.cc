// Module::try_profile and node_flops: one entry per node in execution order, names and
// op names from the archive, FLOPs from the shapes (checked against formulas written
// out here independently), outputs of profiled runs equal to forward()'s, bad
// arguments reported as kInput. No timing assertions: only that times are finite, >= 0.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "api/module_impl.h"
#include "archive_builder.h"
#include "graph/node_flops.h"

namespace {

using deployrt::DType;
using deployrt::ErrorCode;
using deployrt::Module;
using deployrt::NodeProfile;
using deployrt::OpKind;
using deployrt::Tensor;
using dkr_test::ArchiveBuilder;

// x[1,4,9,9] -> conv 3x3 stride 2 pad 1 groups 2 (4 -> 6 channels) [1,6,5,5] -> relu
// -> max_pool 2x2 stride 1 [1,6,4,4] -> flatten [1,96] -> linear 96 -> 10.
std::vector<uint8_t> small_cnn() {
  ArchiveBuilder b;
  uint32_t x = b.input("x", DType::kF32, {1, 4, 9, 9});
  std::vector<float> w(6 * 2 * 3 * 3), fc(10 * 96), bias(10);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(static_cast<int>(i % 7) - 3) * 0.25f;
  for (size_t i = 0; i < fc.size(); ++i) fc[i] = static_cast<float>(static_cast<int>(i % 5) - 2) * 0.5f;
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = static_cast<float>(i);
  uint32_t wt = b.constant("conv.weight", {6, 2, 3, 3}, w);
  uint32_t c = b.node(OpKind::kConv2d, "conv", {x, wt}, {1, 6, 5, 5},
                      {ArchiveBuilder::ints_attr("stride", {2, 2}), ArchiveBuilder::ints_attr("pads", {1, 1, 1, 1}),
                       ArchiveBuilder::ints_attr("dilation", {1, 1}), ArchiveBuilder::int_attr("groups", 2)});
  uint32_t r = b.node(OpKind::kRelu, "relu", {c}, {1, 6, 5, 5});
  uint32_t p = b.node(OpKind::kMaxPool2d, "pool", {r}, {1, 6, 4, 4},
                      {ArchiveBuilder::ints_attr("kernel", {2, 2}), ArchiveBuilder::ints_attr("stride", {1, 1}),
                       ArchiveBuilder::ints_attr("pads", {0, 0, 0, 0}), ArchiveBuilder::ints_attr("dilation", {1, 1}),
                       ArchiveBuilder::int_attr("ceil_mode", 0)});
  uint32_t f = b.node(OpKind::kFlatten, "flatten", {p}, {1, 96},
                      {ArchiveBuilder::int_attr("start_dim", 1), ArchiveBuilder::int_attr("end_dim", 3)});
  uint32_t fw = b.constant("fc.weight", {10, 96}, fc);
  uint32_t fb = b.constant("fc.bias", {10}, bias);
  b.output(b.node(OpKind::kLinear, "fc", {f, fw, fb}, {1, 10}));
  return b.build();
}

TEST(Profile, OneEntryPerNodeWithShapeFlops) {
  const auto bytes = small_cnn();
  auto loaded = Module::Impl::load_from_memory(bytes.data(), bytes.size(), {2});
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  const Module& m = loaded.value();
  std::vector<float> in(4 * 9 * 9);
  for (size_t i = 0; i < in.size(); ++i) in[i] = std::sin(static_cast<float>(i));
  const Tensor x = Tensor::wrap(in.data(), DType::kF32, {1, 4, 9, 9});

  auto before = m.try_forward({x});
  ASSERT_TRUE(before.ok()) << before.status().to_string();
  auto profile = m.try_profile({x}, 3);
  ASSERT_TRUE(profile.ok()) << profile.status().to_string();
  const std::vector<NodeProfile>& p = profile.value();
  ASSERT_EQ(p.size(), m.num_nodes());
  const char* names[] = {"conv", "relu", "pool", "flatten", "fc"};
  const char* ops[] = {"conv2d", "relu", "max_pool2d", "flatten", "linear"};
  const double flops[] = {
      2.0 * (1 * 6 * 5 * 5) * (4 / 2) * 3 * 3,  // 2 N OC OH OW (C/groups) KH KW
      1 * 6 * 5 * 5,                           // elementwise: numel
      (1 * 6 * 4 * 4) * 2 * 2,                 // one op per window element
      0,                                       // shape only
      2.0 * 1 * 96 * 10,                       // 2 rows in out
  };
  for (size_t i = 0; i < p.size(); ++i) {
    EXPECT_EQ(p[i].name, names[i]) << i;
    EXPECT_EQ(p[i].op, ops[i]) << i;
    EXPECT_EQ(p[i].flops, flops[i]) << p[i].name;
    EXPECT_TRUE(std::isfinite(p[i].milliseconds) && p[i].milliseconds >= 0) << p[i].name << " " << p[i].milliseconds;
  }
  // Profiling leaves the module as it was: forward() still gives the same answer.
  auto after = m.try_forward({x});
  ASSERT_TRUE(after.ok()) << after.status().to_string();
  const float* pa = before.value()[0].data_as<float>();
  const float* pb = after.value()[0].data_as<float>();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(pa[i], pb[i]);
}

TEST(Profile, BadArgumentsAreInputErrors) {
  const auto bytes = small_cnn();
  auto loaded = Module::Impl::load_from_memory(bytes.data(), bytes.size(), {1});
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  std::vector<float> in(4 * 9 * 9, 1.0f);
  const Tensor x = Tensor::wrap(in.data(), DType::kF32, {1, 4, 9, 9});
  auto zero_runs = loaded.value().try_profile({x}, 0);
  ASSERT_FALSE(zero_runs.ok());
  EXPECT_EQ(zero_runs.status().code(), ErrorCode::kInput);
  EXPECT_NE(zero_runs.status().message().find("runs"), std::string::npos);
  auto wrong_shape = loaded.value().try_profile({Tensor::wrap(in.data(), DType::kF32, {1, 4, 81})}, 1);
  ASSERT_FALSE(wrong_shape.ok());
  EXPECT_EQ(wrong_shape.status().code(), ErrorCode::kInput);
  EXPECT_FALSE(Module().try_profile({x}, 1).ok());  // default-constructed: an error, not a crash
}

TEST(NodeFlops, AdaptivePoolAndMeanCountInputElements) {
  deployrt::NodeInfo node;
  node.op = OpKind::kAdaptiveAvgPool2d;
  node.inputs.resize(1);
  node.inputs[0].dtype = DType::kF32;
  node.inputs[0].rank = 4;
  const int64_t dims[] = {1, 512, 7, 7};
  for (int i = 0; i < 4; ++i) node.inputs[0].dims[i] = dims[i];
  node.outputs.resize(1);
  node.outputs[0] = node.inputs[0];
  node.outputs[0].dims[2] = node.outputs[0].dims[3] = 1;
  EXPECT_EQ(deployrt::node_flops(node), 512.0 * 49);
  node.op = OpKind::kAdd;  // elementwise: output numel
  EXPECT_EQ(deployrt::node_flops(node), 512.0);
}

}  // namespace
