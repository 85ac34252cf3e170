// relu, hardtanh, sigmoid, add, mul: hand-checked values incl. NaN, broadcasting, validation.
#include <gtest/gtest.h>

#include <cmath>

#include "ops_test_util.h"

namespace deployrt {
namespace {

using testing::OpTester;
using testing::f32_desc;

TEST(Relu, ClampsNegativesKeepsNaN) {
  OpTester t(OpKind::kRelu);
  t.input({5}, {-2, -0.5f, 0, 1.5f, NAN});
  const std::vector<float> y = t.run();
  EXPECT_EQ(y[0], 0);
  EXPECT_EQ(y[1], 0);
  EXPECT_EQ(y[2], 0);
  EXPECT_EQ(y[3], 1.5f);
  EXPECT_TRUE(std::isnan(y[4]));  // relu(NaN) = NaN, as torch.relu
}

TEST(Relu, ThreadCountInvariance) {
  OpTester t(OpKind::kRelu);
  t.random_input({4, 64, 32, 32}, 3);
  t.run();
  EXPECT_EQ(t.output_desc().to_string(), "f32[4,64,32,32]");
}

TEST(Hardtanh, ClampsKeepsNaN) {
  OpTester t(OpKind::kHardtanh);
  t.attr_float("min_val", -1).attr_float("max_val", 1).input({4}, {NAN, -3, 0.5f, 3});
  const std::vector<float> y = t.run();
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], -1);
  EXPECT_EQ(y[2], 0.5f);
  EXPECT_EQ(y[3], 1);
}

TEST(Hardtanh, Relu6) {
  OpTester t(OpKind::kHardtanh);
  t.attr_float("min_val", 0).attr_float("max_val", 6).input({1, 3}, {-1, 3, 7});
  EXPECT_EQ(t.run(), (std::vector<float>{0, 3, 6}));
}

TEST(Hardtanh, Validation) {
  OpTester inverted(OpKind::kHardtanh);
  inverted.attr_float("min_val", 2).attr_float("max_val", 1).input_desc(f32_desc({3}));
  EXPECT_ARCHIVE_ERROR(inverted.infer(), "must be <= 'max_val'");
  OpTester nan_bound(OpKind::kHardtanh);
  nan_bound.attr_float("min_val", NAN).attr_float("max_val", 1).input_desc(f32_desc({3}));
  EXPECT_ARCHIVE_ERROR(nan_bound.infer(), "must be <= 'max_val'");
  OpTester missing(OpKind::kHardtanh);
  missing.attr_float("min_val", 0).input_desc(f32_desc({3}));
  EXPECT_ARCHIVE_ERROR(missing.infer(), "missing attribute 'max_val'");
}

TEST(Sigmoid, KnownValues) {
  OpTester t(OpKind::kSigmoid);
  t.input({6}, {0, std::log(3.0f), -std::log(3.0f), 200, -200, NAN});
  const std::vector<float> y = t.run();
  EXPECT_EQ(y[0], 0.5f);
  EXPECT_NEAR(y[1], 0.75f, 1e-7);  // 1 / (1 + 1/3)
  EXPECT_NEAR(y[2], 0.25f, 1e-7);  // 1 / (1 + 3)
  EXPECT_EQ(y[3], 1.0f);
  EXPECT_EQ(y[4], 0.0f);  // exp(200) overflows to inf: no NaN
  EXPECT_TRUE(std::isnan(y[5]));
}

TEST(Activation, RejectsNonF32) {
  TensorDesc d = f32_desc({3});
  d.dtype = DType::kI64;
  OpTester t(OpKind::kSigmoid);
  t.input_desc(d);
  EXPECT_ARCHIVE_ERROR(t.infer(), "input 'x' must be f32, got i64[3]");
}

// --- add / mul --------------------------------------------------------------------------

OpTester add(double alpha) {
  OpTester t(OpKind::kAdd);
  t.attr_float("alpha", alpha);
  return t;
}

TEST(Add, SameShape) {
  OpTester t = add(1);
  t.input({3}, {1, 2, 3}).input({3}, {10, 20, 30});
  EXPECT_EQ(t.run(), (std::vector<float>{11, 22, 33}));
}

TEST(Add, Alpha) {
  OpTester two = add(2);
  two.input({3}, {1, 2, 3}).input({3}, {10, 20, 30});
  EXPECT_EQ(two.run(), (std::vector<float>{21, 42, 63}));
  OpTester minus = add(-1);  // torch.sub
  minus.input({3}, {1, 2, 3}).input({3}, {10, 20, 30});
  EXPECT_EQ(minus.run(), (std::vector<float>{-9, -18, -27}));
}

TEST(Add, BroadcastTrailingVector) {
  OpTester t = add(1);
  t.input({2, 3}, {1, 2, 3, 4, 5, 6}).input({3}, {10, 20, 30});
  EXPECT_EQ(t.run(), (std::vector<float>{11, 22, 33, 14, 25, 36}));
}

TEST(Add, BroadcastColumn) {
  OpTester t = add(1);
  t.input({2, 3}, {1, 2, 3, 4, 5, 6}).input({2, 1}, {100, 200});
  EXPECT_EQ(t.run(), (std::vector<float>{101, 102, 103, 204, 205, 206}));
}

TEST(Add, BroadcastBothWays) {
  // [2,1] + [1,3] -> [2,3]: an outer sum.
  OpTester t = add(1);
  t.input({2, 1}, {1, 2}).input({1, 3}, {10, 20, 30});
  EXPECT_EQ(t.run(), (std::vector<float>{11, 21, 31, 12, 22, 32}));
}

TEST(Add, BroadcastRaisesRank) {
  OpTester t = add(1);
  t.input({3}, {1, 2, 3}).input({2, 1, 1}, {10, 20});
  EXPECT_EQ(t.run(), (std::vector<float>{11, 12, 13, 21, 22, 23}));
  EXPECT_EQ(t.output_desc().to_string(), "f32[2,1,3]");
}

TEST(Add, ThreadCountInvariance) {
  OpTester t = add(0.5);
  t.random_input({8, 64, 16, 16}, 4).random_input({1, 64, 1, 1}, 5);
  t.run();
}

TEST(Mul, SqueezeExcitationScale) {
  // x [1,2,2,2] * s [1,2,1,1]: channel 0 times 2, channel 1 times 10.
  OpTester t(OpKind::kMul);
  t.input({1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}).input({1, 2, 1, 1}, {2, 10});
  EXPECT_EQ(t.run(), (std::vector<float>{2, 4, 6, 8, 50, 60, 70, 80}));
}

TEST(Mul, ScalarOperand) {
  OpTester t(OpKind::kMul);
  t.input({}, {3}).input({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(t.run(), (std::vector<float>{3, 6, 9, 12}));
}

TEST(Mul, BroadcastMiddleDim) {
  // a [2,3,2] * b [2,1,2]: b's rows repeat across the middle dim.
  OpTester t(OpKind::kMul);
  t.input({2, 3, 2}, std::vector<float>(12, 1.0f)).input({2, 1, 2}, {1, 2, 3, 4});
  EXPECT_EQ(t.run(), (std::vector<float>{1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}));
}

TEST(Mul, ThreadCountInvariance) {
  OpTester t(OpKind::kMul);
  t.random_input({8, 64, 16, 16}, 6).random_input({8, 64, 1, 1}, 7);
  t.run();
}

TEST(BinaryValidation, ShapesDoNotBroadcast) {
  OpTester t(OpKind::kMul);
  t.input_desc(f32_desc({2, 3})).input_desc(f32_desc({4}));
  EXPECT_ARCHIVE_ERROR(t.infer(), "f32[2,3] and f32[4] do not broadcast");
}

TEST(BinaryValidation, AlphaMissingOrMistyped) {
  OpTester missing(OpKind::kAdd);
  missing.input_desc(f32_desc({3})).input_desc(f32_desc({3}));
  EXPECT_ARCHIVE_ERROR(missing.infer(), "missing attribute 'alpha'");
  OpTester typed(OpKind::kAdd);
  typed.attr_int("alpha", 1).input_desc(f32_desc({3})).input_desc(f32_desc({3}));
  EXPECT_ARCHIVE_ERROR(typed.infer(), "attribute 'alpha' has type INT, expected FLOAT");
}

TEST(BinaryValidation, InputCount) {
  OpTester t(OpKind::kMul);
  t.input_desc(f32_desc({3}));
  EXPECT_ARCHIVE_ERROR(t.infer(), "has 1 inputs, expected 2");
}

}  // namespace
}  // namespace deployrt
