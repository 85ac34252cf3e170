// linear: hand-checked dot products, leading dims, long rows (vector lanes + tail), validation.
#include <gtest/gtest.h>

#include "ops_test_util.h"

namespace deployrt {
namespace {

using testing::OpTester;
using testing::f32_desc;

const std::vector<float> kX = {1, 2, 3, 4, 5, 6};          // [2, 3]
const std::vector<float> kW = {1, 0, -1, 0.5f, 0.5f, 0.5f};  // [2, 3]

TEST(Linear, WithBias) {
  // row 0: 1 - 3 + 10 = 8, 0.5 * 6 + 20 = 23; row 1: 4 - 6 + 10 = 8, 0.5 * 15 + 20 = 27.5.
  OpTester t(OpKind::kLinear);
  t.input({2, 3}, kX).constant({2, 3}, kW).constant({2}, {10, 20});
  EXPECT_EQ(t.run(), (std::vector<float>{8, 23, 8, 27.5f}));
}

TEST(Linear, WithoutBias) {
  OpTester t(OpKind::kLinear);
  t.input({2, 3}, kX).constant({2, 3}, kW);
  EXPECT_EQ(t.run(), (std::vector<float>{-2, 3, -2, 7.5f}));
  OpTester absent(OpKind::kLinear);
  absent.input({2, 3}, kX).constant({2, 3}, kW).absent();
  EXPECT_EQ(absent.run(), (std::vector<float>{-2, 3, -2, 7.5f}));
}

TEST(Linear, LeadingDimsAndRankOne) {
  OpTester three(OpKind::kLinear);
  three.input({2, 1, 3}, kX).constant({2, 3}, kW);
  EXPECT_EQ(three.run(), (std::vector<float>{-2, 3, -2, 7.5f}));
  EXPECT_EQ(three.output_desc().to_string(), "f32[2,1,2]");
  OpTester one(OpKind::kLinear);
  one.input({3}, {1, 2, 3}).constant({2, 3}, kW);
  EXPECT_EQ(one.run(), (std::vector<float>{-2, 3}));
}

TEST(Linear, LongRowCoversLanesAndTail) {
  // 19 features: two 8-wide blocks plus a 3-element tail. 1 + 2 + ... + 19 = 190.
  std::vector<float> w(19);
  for (int i = 0; i < 19; ++i) w[i] = static_cast<float>(i + 1);
  OpTester t(OpKind::kLinear);
  t.input({1, 19}, std::vector<float>(19, 1.0f)).constant({1, 19}, w);
  EXPECT_EQ(t.run(), (std::vector<float>{190}));
}

TEST(Linear, ThreadCountInvariance) {
  OpTester t(OpKind::kLinear);
  t.random_input({16, 512}, 20).random_input({300, 512}, 21, true).random_input({300}, 22, true);
  t.run();
}

TEST(LinearValidation, FeatureMismatch) {
  OpTester t(OpKind::kLinear);
  t.input_desc(f32_desc({2, 4})).input_desc(f32_desc({2, 3}));
  EXPECT_ARCHIVE_ERROR(t.infer(), "must have 4 input features");
}

TEST(LinearValidation, WeightRankAndBias) {
  OpTester w(OpKind::kLinear);
  w.input_desc(f32_desc({2, 3})).input_desc(f32_desc({2, 3, 1}));
  EXPECT_ARCHIVE_ERROR(w.infer(), "input 'weight' must have rank 2");
  OpTester b(OpKind::kLinear);
  b.input_desc(f32_desc({2, 3})).input_desc(f32_desc({2, 3})).input_desc(f32_desc({3}));
  EXPECT_ARCHIVE_ERROR(b.infer(), "input 'bias' must be f32[2]");
  OpTester x(OpKind::kLinear);
  x.input_desc(f32_desc({})).input_desc(f32_desc({2, 3}));
  EXPECT_ARCHIVE_ERROR(x.infer(), "input 'x' must have rank >= 1");
}

}  // namespace
}  // namespace deployrt
