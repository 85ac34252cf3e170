// flatten, reshape, cat, mean, softmax: hand-checked shapes and values, validation.
#include <gtest/gtest.h>

#include <cmath>

#include "ops_test_util.h"

namespace deployrt {
namespace {

using testing::OpTester;
using testing::f32_desc;

const std::vector<float> k2x3 = {1, 2, 3, 4, 5, 6};

// --- flatten ----------------------------------------------------------------------------

TEST(Flatten, MergesRange) {
  OpTester t(OpKind::kFlatten);
  t.attr_int("start_dim", 1).attr_int("end_dim", 2).input({2, 3, 1}, k2x3);
  EXPECT_EQ(t.run(), k2x3);
  EXPECT_EQ(t.output_desc().to_string(), "f32[2,3]");
  OpTester all(OpKind::kFlatten);
  all.attr_int("start_dim", 0).attr_int("end_dim", 2).input_desc(f32_desc({2, 3, 4}));
  ASSERT_TRUE(all.infer().ok());
  EXPECT_EQ(all.output_desc().to_string(), "f32[24]");
}

TEST(FlattenValidation, Range) {
  OpTester inverted(OpKind::kFlatten);
  inverted.attr_int("start_dim", 2).attr_int("end_dim", 1).input_desc(f32_desc({2, 3, 4}));
  EXPECT_ARCHIVE_ERROR(inverted.infer(), "start_dim <= end_dim < rank");
  OpTester past(OpKind::kFlatten);
  past.attr_int("start_dim", 1).attr_int("end_dim", 3).input_desc(f32_desc({2, 3, 4}));
  EXPECT_ARCHIVE_ERROR(past.infer(), "start_dim <= end_dim < rank");
  OpTester negative(OpKind::kFlatten);  // axes are stored normalized
  negative.attr_int("start_dim", 1).attr_int("end_dim", -1).input_desc(f32_desc({2, 3, 4}));
  EXPECT_ARCHIVE_ERROR(negative.infer(), "start_dim <= end_dim < rank");
  OpTester missing(OpKind::kFlatten);
  missing.attr_int("start_dim", 1).input_desc(f32_desc({2, 3, 4}));
  EXPECT_ARCHIVE_ERROR(missing.infer(), "missing attribute 'end_dim'");
}

// --- reshape ----------------------------------------------------------------------------

TEST(Reshape, KeepsDataInOrder) {
  OpTester t(OpKind::kReshape);
  t.attr_ints("shape", {3, 1, 2}).input({2, 3}, k2x3);
  EXPECT_EQ(t.run(), k2x3);
  EXPECT_EQ(t.output_desc().to_string(), "f32[3,1,2]");
  OpTester scalar(OpKind::kReshape);
  scalar.attr_ints("shape", {}).input({1, 1}, {7});
  EXPECT_EQ(scalar.run(), (std::vector<float>{7}));
  EXPECT_EQ(scalar.output_desc().to_string(), "f32[]");
}

TEST(ReshapeValidation, NumelMismatch) {
  OpTester t(OpKind::kReshape);
  t.attr_ints("shape", {4, 2}).input_desc(f32_desc({2, 3}));
  EXPECT_ARCHIVE_ERROR(t.infer(), "shape [4,2] has 8 elements, input f32[2,3] has 6");
}

TEST(ReshapeValidation, UnresolvedOrHugeShape) {
  // One -1 is inferred (format 1.2, dynamic shapes); two, or one that cannot divide, are errors.
  OpTester minus_one(OpKind::kReshape);
  minus_one.attr_ints("shape", {-1, 3}).input_desc(f32_desc({2, 3}));
  ASSERT_TRUE(minus_one.infer().ok());
  EXPECT_EQ(minus_one.output_desc().to_string(), "f32[2,3]");
  OpTester two(OpKind::kReshape);
  two.attr_ints("shape", {-1, -1}).input_desc(f32_desc({2, 3}));
  EXPECT_ARCHIVE_ERROR(two.infer(), "has more than one -1");
  OpTester indivisible(OpKind::kReshape);
  indivisible.attr_ints("shape", {-1, 4}).input_desc(f32_desc({2, 3}));
  EXPECT_ARCHIVE_ERROR(indivisible.infer(), "cannot take input f32[2,3]");
  OpTester below(OpKind::kReshape);
  below.attr_ints("shape", {-2, 3}).input_desc(f32_desc({2, 3}));
  EXPECT_ARCHIVE_ERROR(below.infer(), "'shape' must have values >= -1");
  OpTester overflow(OpKind::kReshape);
  overflow.attr_ints("shape", {int64_t{1} << 62, 8, 0}).input_desc(f32_desc({0}));
  EXPECT_ARCHIVE_ERROR(overflow.infer(), "overflow");
  OpTester rank(OpKind::kReshape);
  rank.attr_ints("shape", std::vector<int64_t>(9, 1)).input_desc(f32_desc({1}));
  EXPECT_ARCHIVE_ERROR(rank.infer(), "output rank 9 exceeds the maximum 8");
}

// --- cat --------------------------------------------------------------------------------

TEST(Cat, InnerAxis) {
  // [2,1] ++ [2,2] along axis 1: rows [1 | 3 4], [2 | 5 6].
  OpTester t(OpKind::kCat);
  t.attr_int("axis", 1).input({2, 1}, {1, 2}).input({2, 2}, {3, 4, 5, 6});
  EXPECT_EQ(t.run(), (std::vector<float>{1, 3, 4, 2, 5, 6}));
  EXPECT_EQ(t.output_desc().to_string(), "f32[2,3]");
}

TEST(Cat, OuterAxisAndSingleInput) {
  OpTester t(OpKind::kCat);
  t.attr_int("axis", 0).input({2}, {1, 2}).input({1}, {3}).input({0}, {});
  EXPECT_EQ(t.run(), (std::vector<float>{1, 2, 3}));
  OpTester single(OpKind::kCat);
  single.attr_int("axis", 0).input({2}, {8, 9});
  EXPECT_EQ(single.run(), (std::vector<float>{8, 9}));
}

TEST(Cat, ThreadCountInvariance) {
  OpTester t(OpKind::kCat);
  t.attr_int("axis", 1).random_input({4, 64, 16, 16}, 30).random_input({4, 32, 16, 16}, 31);
  t.run();
  EXPECT_EQ(t.output_desc().to_string(), "f32[4,96,16,16]");
}

TEST(CatValidation, Mismatch) {
  OpTester dims(OpKind::kCat);
  dims.attr_int("axis", 1).input_desc(f32_desc({2, 1})).input_desc(f32_desc({3, 2}));
  EXPECT_ARCHIVE_ERROR(dims.infer(), "input x1 f32[3,2] does not match x0 f32[2,1] outside axis 1");
  OpTester rank(OpKind::kCat);
  rank.attr_int("axis", 0).input_desc(f32_desc({2, 1})).input_desc(f32_desc({2}));
  EXPECT_ARCHIVE_ERROR(rank.infer(), "does not match x0");
}

TEST(CatValidation, AxisOutOfRange) {
  OpTester t(OpKind::kCat);
  t.attr_int("axis", 2).input_desc(f32_desc({2, 1})).input_desc(f32_desc({2, 1}));
  EXPECT_ARCHIVE_ERROR(t.infer(), "'axis' = 2 is out of range for rank 2");
  OpTester n(OpKind::kCat);
  n.attr_int("axis", -1).input_desc(f32_desc({2, 1}));
  EXPECT_ARCHIVE_ERROR(n.infer(), "'axis' = -1 is out of range");
  OpTester none(OpKind::kCat);
  none.attr_int("axis", 0);
  EXPECT_ARCHIVE_ERROR(none.infer(), "has 0 inputs, expected at least 1");
}

// --- mean -------------------------------------------------------------------------------

OpTester mean(std::vector<int64_t> dims, int64_t keepdim) {
  OpTester t(OpKind::kMean);
  t.attr_ints("dims", dims).attr_int("keepdim", keepdim);
  return t;
}

TEST(Mean, SingleDims) {
  OpTester rows = mean({1}, 0);
  rows.input({2, 3}, k2x3);
  EXPECT_EQ(rows.run(), (std::vector<float>{2, 5}));
  EXPECT_EQ(rows.output_desc().to_string(), "f32[2]");
  OpTester cols = mean({0}, 0);
  cols.input({2, 3}, k2x3);
  EXPECT_EQ(cols.run(), (std::vector<float>{2.5f, 3.5f, 4.5f}));
}

TEST(Mean, KeepdimAndAll) {
  OpTester keep = mean({0, 1}, 1);
  keep.input({2, 3}, k2x3);
  EXPECT_EQ(keep.run(), (std::vector<float>{3.5f}));
  EXPECT_EQ(keep.output_desc().to_string(), "f32[1,1]");
  OpTester all = mean({}, 0);  // torch.mean(x, dim=[]) reduces everything
  all.input({2, 3}, k2x3);
  EXPECT_EQ(all.run(), (std::vector<float>{3.5f}));
  EXPECT_EQ(all.output_desc().to_string(), "f32[]");
}

TEST(Mean, SpatialDimsOfNCHW) {
  OpTester t = mean({2, 3}, 1);
  t.input({1, 2, 2, 2}, {1, 2, 3, 4, 10, 20, 30, 40});
  EXPECT_EQ(t.run(), (std::vector<float>{2.5f, 25}));
  EXPECT_EQ(t.output_desc().to_string(), "f32[1,2,1,1]");
}

TEST(Mean, NonAdjacentDims) {
  // x [2,2,2] = 1..8, mean over dims 0 and 2 -> per middle index j: mean of {x[i,j,k]}.
  // j = 0: {1,2,5,6} -> 3.5; j = 1: {3,4,7,8} -> 5.5.
  OpTester t = mean({0, 2}, 0);
  t.input({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_EQ(t.run(), (std::vector<float>{3.5f, 5.5f}));
}

TEST(Mean, ThreadCountInvariance) {
  OpTester t = mean({2, 3}, 0);
  t.random_input({4, 256, 14, 14}, 40);
  t.run();
}

TEST(MeanValidation, Dims) {
  OpTester range = mean({2}, 0);
  range.input_desc(f32_desc({2, 3}));
  EXPECT_ARCHIVE_ERROR(range.infer(), "out of range for rank 2");
  OpTester dup = mean({1, 1}, 0);
  dup.input_desc(f32_desc({2, 3}));
  EXPECT_ARCHIVE_ERROR(dup.infer(), "repeats dim 1");
  OpTester keep = mean({1}, 2);
  keep.input_desc(f32_desc({2, 3}));
  EXPECT_ARCHIVE_ERROR(keep.infer(), "'keepdim' must be 0 or 1");
}

// --- softmax ----------------------------------------------------------------------------

TEST(Softmax, LastAxis) {
  // exp([0, ln 3]) = [1, 3] -> [0.25, 0.75].
  OpTester t(OpKind::kSoftmax);
  t.attr_int("axis", 1).input({1, 2}, {0, std::log(3.0f)});
  testing::expect_near_all(t.run(), {0.25f, 0.75f}, 1e-7f);
}

TEST(Softmax, LargeValuesAreStable) {
  OpTester t(OpKind::kSoftmax);
  t.attr_int("axis", 1).input({2, 2}, {1000, 1000, 1000, 0});
  EXPECT_EQ(t.run(), (std::vector<float>{0.5f, 0.5f, 1, 0}));
}

TEST(Softmax, OuterAxis) {
  // x [[0, 0], [ln 3, 0]] along axis 0: column 0 -> [0.25, 0.75], column 1 -> [0.5, 0.5].
  OpTester t(OpKind::kSoftmax);
  t.attr_int("axis", 0).input({2, 2}, {0, 0, std::log(3.0f), 0});
  testing::expect_near_all(t.run(), {0.25f, 0.5f, 0.75f, 0.5f}, 1e-7f);
}

TEST(Softmax, AllMinusInfinityIsNaN) {
  OpTester t(OpKind::kSoftmax);
  t.attr_int("axis", 0).input({2}, {-INFINITY, -INFINITY});
  const std::vector<float> y = t.run();
  EXPECT_TRUE(std::isnan(y[0]) && std::isnan(y[1]));
}

TEST(Softmax, ThreadCountInvariance) {
  OpTester t(OpKind::kSoftmax);
  t.attr_int("axis", 1).random_input({64, 1000}, 50);
  t.run();
}

TEST(SoftmaxValidation, Axis) {
  OpTester t(OpKind::kSoftmax);
  t.attr_int("axis", 2).input_desc(f32_desc({2, 3}));
  EXPECT_ARCHIVE_ERROR(t.infer(), "'axis' = 2 is out of range for rank 2");
  OpTester typed(OpKind::kSoftmax);
  typed.attr_ints("axis", {1}).input_desc(f32_desc({2, 3}));
  EXPECT_ARCHIVE_ERROR(typed.infer(), "attribute 'axis' has type INTS, expected INT");
}

}  // namespace
}  // namespace deployrt
