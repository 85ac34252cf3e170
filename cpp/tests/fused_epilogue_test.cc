// Fused epilogues (docs/ops.md): conv2d / linear residual input and act_min / act_max on
// conv2d, linear and add. Hand-checked values, NaN handling, optional slots in a graph, validation.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "archive_builder.h"
#include "module_test_util.h"
#include "ops_test_util.h"

namespace deployrt {
namespace {

using testing::OpTester;
using testing::f32_desc;

constexpr float kInf = std::numeric_limits<float>::infinity();

OpTester conv() {
  OpTester t(OpKind::kConv2d);
  t.attr_ints("stride", {1, 1}).attr_ints("pads", {0, 0, 0, 0}).attr_ints("dilation", {1, 1}).attr_int("groups", 1);
  return t;
}

// x = 3x3 [1..9], w = 2x2 [1 2; 3 4], bias 0.5: conv = {37.5, 47.5, 67.5, 77.5}.
OpTester conv_2x2(OpTester t) {
  t.input({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}).constant({1, 1, 2, 2}, {1, 2, 3, 4}).constant({1}, {0.5f});
  return t;
}

TEST(FusedConv2d, ResidualIsAdded) {
  OpTester t = conv_2x2(conv());
  t.input({1, 1, 2, 2}, {-40, 0, -100, 1});
  EXPECT_EQ(t.run(), (std::vector<float>{-2.5f, 47.5f, -32.5f, 78.5f}));
}

TEST(FusedConv2d, ResidualThenClamp) {
  // {-2.5, 47.5, -32.5, 78.5} clamped to [0, 50]: the clamp sees the residual sum.
  OpTester t = conv_2x2(conv());
  t.input({1, 1, 2, 2}, {-40, 0, -100, 1}).attr_float("act_min", 0).attr_float("act_max", 50);
  EXPECT_EQ(t.run(), (std::vector<float>{0, 47.5f, 0, 50}));
}

TEST(FusedConv2d, ReluWithoutResidualAndAbsentSlots) {
  // w = -1: conv = -x + 0.5; ReLU keeps only the negative inputs' results.
  OpTester t = conv();
  t.input({1, 1, 1, 3}, {-2, 0.25f, 3}).constant({1, 1, 1, 1}, {-1}).constant({1}, {0.5f});
  t.attr_float("act_min", 0);
  EXPECT_EQ(t.run(), (std::vector<float>{2.5f, 0.25f, 0}));
  // Absent bias and absent residual slots, ReLU6.
  OpTester a = conv();
  a.input({1, 1, 1, 3}, {-7, -2, 3}).constant({1, 1, 1, 1}, {-1}).absent().absent();
  a.attr_float("act_min", 0).attr_float("act_max", 6);
  EXPECT_EQ(a.run(), (std::vector<float>{6, 2, 0}));
}

TEST(FusedConv2d, ClampKeepsNaN) {
  OpTester t = conv();
  t.input({1, 1, 1, 3}, {NAN, 1, -1}).constant({1, 1, 1, 1}, {1}).absent().input({1, 1, 1, 3}, {0, NAN, 0});
  t.attr_float("act_min", 0).attr_float("act_max", 6);
  const std::vector<float> y = t.run();
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_TRUE(std::isnan(y[1]));
  EXPECT_EQ(y[2], 0);
}

TEST(FusedConv2d, InfiniteBoundsClampNothing) {
  OpTester t = conv();
  t.input({1, 1, 1, 2}, {-1e30f, 1e30f}).constant({1, 1, 1, 1}, {1});
  t.attr_float("act_min", -INFINITY).attr_float("act_max", INFINITY);
  EXPECT_EQ(t.run(), (std::vector<float>{-1e30f, 1e30f}));
  // A bound beyond the f32 range acts as infinity for every f32 value.
  OpTester big = conv();
  big.input({1, 1, 1, 2}, {-kInf, 3e38f}).constant({1, 1, 1, 1}, {1}).attr_float("act_max", 1e300);
  EXPECT_EQ(big.run(), (std::vector<float>{-kInf, 3e38f}));
}

TEST(FusedLinear, ResidualAndClamp) {
  // x [2,3] . w [2,3]^T + bias: {8, 23, 8, 27.5} (see linear_test); + residual, clamp [0, 25].
  OpTester t(OpKind::kLinear);
  t.input({2, 3}, {1, 2, 3, 4, 5, 6}).constant({2, 3}, {1, 0, -1, 0.5f, 0.5f, 0.5f}).constant({2}, {10, 20});
  t.input({2, 2}, {-10, 1, 0.5f, -2.5f}).attr_float("act_min", 0).attr_float("act_max", 25);
  EXPECT_EQ(t.run(), (std::vector<float>{0, 24, 8.5f, 25}));
}

TEST(FusedLinear, ResidualWithoutBias) {
  OpTester t(OpKind::kLinear);
  t.input({1, 2}, {1, 2}).constant({1, 2}, {3, 4}).absent().input({1, 1}, {-11});
  EXPECT_EQ(t.run(), (std::vector<float>{0}));
}

TEST(FusedAdd, Clamp) {
  OpTester t(OpKind::kAdd);
  t.attr_float("alpha", 2).attr_float("act_min", -1).attr_float("act_max", 5);
  t.input({4}, {1, 2, -3, NAN}).input({4}, {1, 2, 0, 0});
  const std::vector<float> y = t.run();  // {3, 6, -3, NaN} clamped
  EXPECT_EQ(y[0], 3);
  EXPECT_EQ(y[1], 5);
  EXPECT_EQ(y[2], -1);
  EXPECT_TRUE(std::isnan(y[3]));
}

TEST(FusedAdd, ClampWithBroadcastAndUnitAlpha) {
  OpTester t(OpKind::kAdd);
  t.attr_float("alpha", 1).attr_float("act_min", 0);
  t.input({2, 2}, {1, -2, 3, -4}).input({2, 1}, {1, 2});
  EXPECT_EQ(t.run(), (std::vector<float>{2, 0, 5, 0}));
}

// --- optional inputs in a graph ------------------------------------------------------
// The executor passes the slots past a node's own inputs empty (OpDef::input_slots): a
// node with fewer inputs than the one before it must not see that node's bias or residual.

std::vector<dkr_test::ArchiveBuilder::AttrSpec> conv_attrs() {
  using dkr_test::ArchiveBuilder;
  return {ArchiveBuilder::ints_attr("stride", {1, 1}), ArchiveBuilder::ints_attr("pads", {0, 0, 0, 0}),
          ArchiveBuilder::ints_attr("dilation", {1, 1}), ArchiveBuilder::int_attr("groups", 1)};
}

TEST(FusedGraph, FewerInputsThanThePreviousNodeReadNoStaleSlots) {
  dkr_test::ArchiveBuilder b;
  const uint32_t x = b.input("x", DType::kF32, {1, 1, 2, 2});
  const uint32_t r = b.input("r", DType::kF32, {1, 2, 2, 2});
  // 4 inputs, depthwise (multiplier 2): {x + 1 + r0, 2x - 1 + r1}.
  const uint32_t c1 = b.node(OpKind::kConv2d, "c1",
                             {x, b.constant("w1", {2, 1, 1, 1}, {1, 2}), b.constant("b1", {2}, {1, -1}), r},
                             {1, 2, 2, 2}, conv_attrs());
  // 3 inputs, GEMM: identity plus {0.5, 0.25}. A stale slot 3 would add r again.
  const uint32_t c2 = b.node(OpKind::kConv2d, "c2",
                             {c1, b.constant("w2", {2, 2, 1, 1}, {1, 0, 0, 1}), b.constant("b2", {2}, {0.5f, 0.25f})},
                             {1, 2, 2, 2}, conv_attrs());
  // 2 inputs, GEMM: the channel sum. Stale slots would add b2[0] and r.
  b.output(b.node(OpKind::kConv2d, "c3", {c2, b.constant("w3", {1, 2, 1, 1}, {1, 1})}, {1, 1, 2, 2}, conv_attrs()));
  const Module m = dkr_test::load_module(b.build());
  std::vector<float> xv = {1, 2, 3, 4}, rv = {10, 20, 30, 40, 100, 200, 300, 400};
  auto out = m.try_forward(
      {Tensor::wrap(xv.data(), DType::kF32, {1, 1, 2, 2}), Tensor::wrap(rv.data(), DType::kF32, {1, 2, 2, 2})});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  // {12.5, 23.5, 34.5, 45.5} + {101.25, 203.25, 305.25, 407.25}
  EXPECT_EQ(dkr_test::f32_values(out.value()[0]), (std::vector<float>{113.75f, 226.75f, 339.75f, 452.75f}));
}

TEST(FusedGraph, OptionalSlotsTheArchiveDoesNotListAreEmpty) {
  // The widest node has 2 inputs, yet conv2d may read slots 2 and 3: they exist, empty.
  dkr_test::ArchiveBuilder b;
  const uint32_t x = b.input("x", DType::kF32, {1, 1, 2, 2});
  b.output(b.node(OpKind::kConv2d, "c", {x, b.constant("w", {1, 1, 1, 1}, {3})}, {1, 1, 2, 2}, conv_attrs()));
  const Module m = dkr_test::load_module(b.build());
  std::vector<float> xv = {1, -2, 3, -4};
  auto out = m.try_forward({Tensor::wrap(xv.data(), DType::kF32, {1, 1, 2, 2})});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(dkr_test::f32_values(out.value()[0]), (std::vector<float>{3, -6, 9, -12}));
}

// --- validation -------------------------------------------------------------------------

TEST(FusedValidation, ResidualMustMatchOutput) {
  OpTester c = conv();
  c.input_desc(f32_desc({1, 4, 8, 8})).input_desc(f32_desc({8, 4, 3, 3})).absent().input_desc(f32_desc({1, 8, 6, 5}));
  EXPECT_ARCHIVE_ERROR(c.infer(), "input 'residual' f32[1,8,6,5] must match the output f32[1,8,6,6]");
  OpTester l(OpKind::kLinear);
  l.input_desc(f32_desc({2, 3})).input_desc(f32_desc({4, 3})).absent().input_desc(f32_desc({4, 2}));
  EXPECT_ARCHIVE_ERROR(l.infer(), "input 'residual' f32[4,2] must match the output f32[2,4]");
  OpTester ok = conv();
  ok.input_desc(f32_desc({1, 4, 8, 8})).input_desc(f32_desc({8, 4, 3, 3})).absent().input_desc(f32_desc({1, 8, 6, 6}));
  EXPECT_TRUE(ok.infer().ok());
}

TEST(FusedValidation, TooManyInputs) {
  OpTester c = conv();
  c.input_desc(f32_desc({1, 1, 2, 2})).input_desc(f32_desc({1, 1, 1, 1})).absent().absent().absent();
  EXPECT_ARCHIVE_ERROR(c.infer(), "has 5 inputs, expected 2 to 4");
}

TEST(FusedValidation, BoundsNaNOrCrossed) {
  for (OpKind op : {OpKind::kConv2d, OpKind::kLinear, OpKind::kAdd}) {
    SCOPED_TRACE(op_name(static_cast<uint32_t>(op)));
    auto make = [op] {
      OpTester t = op == OpKind::kConv2d ? conv() : OpTester(op);
      if (op == OpKind::kAdd) t.attr_float("alpha", 1);
      if (op == OpKind::kConv2d) t.input_desc(f32_desc({1, 1, 2, 2})).input_desc(f32_desc({1, 1, 1, 1}));
      if (op == OpKind::kLinear) t.input_desc(f32_desc({2, 3})).input_desc(f32_desc({4, 3}));
      if (op == OpKind::kAdd) t.input_desc(f32_desc({3})).input_desc(f32_desc({3}));
      return t;
    };
    OpTester nan_min = make();
    nan_min.attr_float("act_min", NAN);
    EXPECT_ARCHIVE_ERROR(nan_min.infer(), "attribute 'act_min' must not be NaN");
    OpTester nan_max = make();
    nan_max.attr_float("act_max", NAN);
    EXPECT_ARCHIVE_ERROR(nan_max.infer(), "attribute 'act_max' must not be NaN");
    OpTester crossed = make();
    crossed.attr_float("act_min", 2).attr_float("act_max", 1);
    EXPECT_ARCHIVE_ERROR(crossed.infer(), "'act_min' (2.000000) must be <= 'act_max' (1.000000)");
    OpTester typed = make();
    typed.attr_int("act_max", 6);
    EXPECT_ARCHIVE_ERROR(typed.infer(), "attribute 'act_max' has type INT, expected FLOAT");
    OpTester equal = make();
    equal.attr_float("act_min", 1).attr_float("act_max", 1);
    EXPECT_TRUE(equal.infer().ok());
  }
}

}  // namespace
}  // namespace deployrt
