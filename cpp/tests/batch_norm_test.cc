// batch_norm (inference): hand-checked fold, absent weight/bias, non-constant statistics
// (folded at run time into the workspace), validation.
#include <gtest/gtest.h>

#include "ops_test_util.h"

namespace deployrt {
namespace {

using testing::OpTester;
using testing::f32_desc;

// x [1,2,1,2]: channel 0 = [1, 3], channel 1 = [2, 4].
// mean [2, 3], var [3.75, 0], eps 0.25 -> std [2, 0.5].
const std::vector<float> kX = {1, 3, 2, 4};
const std::vector<float> kMean = {2, 3};
const std::vector<float> kVar = {3.75f, 0};

TEST(BatchNorm, WeightAndBias) {
  // ch0: (x - 2) / 2 * 1 + 0 = [-0.5, 0.5]; ch1: (x - 3) / 0.5 * 3 - 1 = [-7, 5].
  OpTester t(OpKind::kBatchNorm);
  t.attr_float("eps", 0.25).input({1, 2, 1, 2}, kX).constant({2}, kMean).constant({2}, kVar);
  t.constant({2}, {1, 3}).constant({2}, {0, -1});
  EXPECT_EQ(t.run(), (std::vector<float>{-0.5f, 0.5f, -7, 5}));
}

TEST(BatchNorm, AbsentWeightAndBias) {
  // ch1: (x - 3) / 0.5 = [-2, 2].
  OpTester t(OpKind::kBatchNorm);
  t.attr_float("eps", 0.25).input({1, 2, 1, 2}, kX).constant({2}, kMean).constant({2}, kVar).absent().absent();
  EXPECT_EQ(t.run(), (std::vector<float>{-0.5f, 0.5f, -2, 2}));
  OpTester three(OpKind::kBatchNorm);  // the trailing optional slots omitted entirely
  three.attr_float("eps", 0.25).input({1, 2, 1, 2}, kX).constant({2}, kMean).constant({2}, kVar);
  EXPECT_EQ(three.run(), (std::vector<float>{-0.5f, 0.5f, -2, 2}));
}

TEST(BatchNorm, NonConstantStatisticsUseWorkspace) {
  OpTester t(OpKind::kBatchNorm);
  t.attr_float("eps", 0.25).input({1, 2, 1, 2}, kX).input({2}, kMean).input({2}, kVar);
  t.input({2}, {1, 3}).input({2}, {0, -1});
  EXPECT_EQ(t.run(), (std::vector<float>{-0.5f, 0.5f, -7, 5}));
}

TEST(BatchNorm, RankTwoInput) {
  // BatchNorm1d on [N, C]: x rows [1, 2], [3, 4]; channel 0 = {1, 3}, channel 1 = {2, 4}.
  OpTester t(OpKind::kBatchNorm);
  t.attr_float("eps", 0.25).input({2, 2}, {1, 2, 3, 4}).constant({2}, kMean).constant({2}, kVar);
  EXPECT_EQ(t.run(), (std::vector<float>{-0.5f, -2, 0.5f, 2}));
}

TEST(BatchNorm, ThreadCountInvariance) {
  OpTester t(OpKind::kBatchNorm);
  std::vector<float> var = testing::random_values(64, 11);
  for (float& v : var) v = v * v + 0.1f;
  t.attr_float("eps", 1e-5).random_input({4, 64, 16, 16}, 10).random_input({64}, 12, true).constant({64}, var);
  t.random_input({64}, 13, true).random_input({64}, 14, true);
  t.run();
}

TEST(BatchNormValidation, Eps) {
  for (double eps : {0.0, -1e-5, static_cast<double>(NAN), static_cast<double>(INFINITY)}) {
    OpTester t(OpKind::kBatchNorm);
    t.attr_float("eps", eps).input_desc(f32_desc({1, 2, 3, 3})).input_desc(f32_desc({2})).input_desc(f32_desc({2}));
    EXPECT_ARCHIVE_ERROR(t.infer(), "'eps' must be a finite value > 0");
  }
}

TEST(BatchNormValidation, StatisticShape) {
  OpTester t(OpKind::kBatchNorm);
  t.attr_float("eps", 1e-5).input_desc(f32_desc({1, 2, 3, 3})).input_desc(f32_desc({2})).input_desc(f32_desc({3}));
  EXPECT_ARCHIVE_ERROR(t.infer(), "input 'running_var' must be f32[2]");
  OpTester w(OpKind::kBatchNorm);
  w.attr_float("eps", 1e-5).input_desc(f32_desc({1, 2, 3, 3})).input_desc(f32_desc({2})).input_desc(f32_desc({2}));
  w.input_desc(f32_desc({2, 1}));
  EXPECT_ARCHIVE_ERROR(w.infer(), "input 'weight' must have rank 1");
}

TEST(BatchNormValidation, InputRankAndCount) {
  OpTester r(OpKind::kBatchNorm);
  r.attr_float("eps", 1e-5).input_desc(f32_desc({2})).input_desc(f32_desc({2})).input_desc(f32_desc({2}));
  EXPECT_ARCHIVE_ERROR(r.infer(), "input 'x' must have rank >= 2");
  OpTester c(OpKind::kBatchNorm);
  c.attr_float("eps", 1e-5).input_desc(f32_desc({1, 2})).input_desc(f32_desc({2}));
  EXPECT_ARCHIVE_ERROR(c.infer(), "has 2 inputs, expected 3 to 5");
  OpTester absent_mean(OpKind::kBatchNorm);
  absent_mean.attr_float("eps", 1e-5).input_desc(f32_desc({1, 2})).absent().input_desc(f32_desc({2}));
  EXPECT_ARCHIVE_ERROR(absent_mean.infer(), "required input 1 is absent");
}

}  // namespace
}  // namespace deployrt
