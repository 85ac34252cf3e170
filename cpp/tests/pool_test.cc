// max_pool2d, avg_pool2d, adaptive_avg_pool2d: hand-checked windows (padding, ceil_mode,
// dilation, count_include_pad, divisor_override, NaN), thread invariance and validation.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ops_test_util.h"

namespace deployrt {
namespace {

using testing::OpTester;
using testing::f32_desc;

std::vector<float> iota(int n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[i] = static_cast<float>(i + 1);
  return v;
}

OpTester max_pool(std::vector<int64_t> kernel, std::vector<int64_t> stride, std::vector<int64_t> pads = {0, 0, 0, 0},
                  std::vector<int64_t> dilation = {1, 1}, int64_t ceil_mode = 0) {
  OpTester t(OpKind::kMaxPool2d);
  t.attr_ints("kernel", kernel).attr_ints("stride", stride).attr_ints("pads", pads).attr_ints("dilation", dilation);
  t.attr_int("ceil_mode", ceil_mode);
  return t;
}

OpTester avg_pool(std::vector<int64_t> kernel, std::vector<int64_t> stride, std::vector<int64_t> pads = {0, 0, 0, 0},
                  int64_t ceil_mode = 0, int64_t count_include_pad = 1, int64_t divisor_override = 0) {
  OpTester t(OpKind::kAvgPool2d);
  t.attr_ints("kernel", kernel).attr_ints("stride", stride).attr_ints("pads", pads).attr_int("ceil_mode", ceil_mode);
  t.attr_int("count_include_pad", count_include_pad).attr_int("divisor_override", divisor_override);
  return t;
}

// --- max_pool2d -------------------------------------------------------------------------

TEST(MaxPool2d, TwoByTwoStrideTwo) {
  OpTester t = max_pool({2, 2}, {2, 2});
  t.input({1, 1, 4, 4}, iota(16));  // rows 1-4 / 5-8 / 9-12 / 13-16
  EXPECT_EQ(t.run(), (std::vector<float>{6, 8, 14, 16}));
}

TEST(MaxPool2d, PaddingNeverWins) {
  // All-negative input: padded cells are -inf, not 0, so every window keeps an input value.
  OpTester t = max_pool({2, 2}, {1, 1}, {1, 1, 1, 1});
  t.input({1, 1, 2, 2}, {-1, -2, -3, -4});
  EXPECT_EQ(t.run(), (std::vector<float>{-1, -1, -2, -1, -1, -2, -3, -3, -4}));
}

TEST(MaxPool2d, ThreeByThreeStrideTwoPadOne) {
  OpTester t = max_pool({3, 3}, {2, 2}, {1, 1, 1, 1});
  t.input({1, 1, 3, 3}, iota(9));
  EXPECT_EQ(t.run(), (std::vector<float>{5, 6, 8, 9}));
}

TEST(MaxPool2d, CeilModeAddsPartialWindow) {
  // W = 5, k = 2, s = 2: floor gives 2 windows, ceil a third one holding only x[4].
  OpTester t = max_pool({1, 2}, {1, 2}, {0, 0, 0, 0}, {1, 1}, 1);
  t.input({1, 1, 1, 5}, {1, 5, 2, 3, 9});
  EXPECT_EQ(t.run(), (std::vector<float>{5, 3, 9}));
  EXPECT_EQ(t.output_shape(), (std::vector<int64_t>{1, 1, 1, 3}));
}

TEST(MaxPool2d, CeilModeDropsWindowStartingInRightPadding) {
  // W = 3, k = 2, s = 2, pad 1: ceil arithmetic gives 3 windows, but the third would start at
  // 3 = W + pad_left - 1 + 1, inside the right padding, so PyTorch drops it.
  OpTester t = max_pool({1, 2}, {1, 2}, {0, 1, 0, 1}, {1, 1}, 1);
  t.input({1, 1, 1, 3}, {1, 2, 3});
  EXPECT_EQ(t.run(), (std::vector<float>{1, 3}));
}

TEST(MaxPool2d, Dilation) {
  OpTester t = max_pool({1, 2}, {1, 1}, {0, 0, 0, 0}, {1, 2});
  t.input({1, 1, 1, 5}, {1, 9, 2, 8, 3});  // windows {0,2} {1,3} {2,4}
  EXPECT_EQ(t.run(), (std::vector<float>{2, 9, 3}));
}

TEST(MaxPool2d, NaNPropagates) {
  OpTester late = max_pool({2, 2}, {2, 2});
  late.input({1, 1, 2, 2}, {1, NAN, 3, 4});  // NaN followed by larger values
  EXPECT_TRUE(std::isnan(late.run()[0]));
  OpTester first = max_pool({2, 2}, {2, 2});
  first.input({1, 1, 2, 2}, {NAN, 5, 3, 4});
  EXPECT_TRUE(std::isnan(first.run()[0]));
}

TEST(MaxPool2d, ThreadCountInvariance) {
  OpTester t = max_pool({3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1);
  t.random_input({4, 32, 21, 21}, 7);
  const std::vector<float> y = t.run();  // run() compares 1 vs 2 threads bit for bit
  EXPECT_EQ(t.output_shape(), (std::vector<int64_t>{4, 32, 11, 11}));
  EXPECT_EQ(y.size(), 4u * 32 * 11 * 11);
}

// --- avg_pool2d -------------------------------------------------------------------------

TEST(AvgPool2d, TwoByTwoStrideTwo) {
  OpTester t = avg_pool({2, 2}, {2, 2});
  t.input({1, 1, 4, 4}, iota(16));
  EXPECT_EQ(t.run(), (std::vector<float>{3.5f, 5.5f, 11.5f, 13.5f}));
}

TEST(AvgPool2d, CountIncludePad) {
  // 3x3, pad 1: the corner window holds 1+2+4+5 = 12 over 4 real cells of 9.
  OpTester with_pad = avg_pool({3, 3}, {1, 1}, {1, 1, 1, 1}, 0, 1);
  with_pad.input({1, 1, 3, 3}, iota(9));
  std::vector<float> y = with_pad.run();
  EXPECT_FLOAT_EQ(y[0], 12.0f / 9.0f);
  EXPECT_FLOAT_EQ(y[4], 5.0f);
  OpTester without = avg_pool({3, 3}, {1, 1}, {1, 1, 1, 1}, 0, 0);
  without.input({1, 1, 3, 3}, iota(9));
  y = without.run();
  EXPECT_FLOAT_EQ(y[0], 3.0f);
  EXPECT_FLOAT_EQ(y[1], 3.5f);  // (1+2+3+4+5+6) / 6
  EXPECT_FLOAT_EQ(y[4], 5.0f);
}

TEST(AvgPool2d, DivisorOverride) {
  OpTester t = avg_pool({3, 3}, {1, 1}, {1, 1, 1, 1}, 0, 1, 2);
  t.input({1, 1, 3, 3}, iota(9));
  EXPECT_EQ(t.run(), (std::vector<float>{6, 10.5f, 8, 13.5f, 22.5f, 16.5f, 12, 19.5f, 14}));
}

TEST(AvgPool2d, CeilModeWindowPastInputCountsOnlyRealCells) {
  // W = 5, k = 2, s = 2, ceil: the last window [4, 6) is clipped to the input for both sum
  // and count (no padding to include): 5 / 1.
  OpTester t = avg_pool({1, 2}, {1, 2}, {0, 0, 0, 0}, 1, 1);
  t.input({1, 1, 1, 5}, iota(5));
  EXPECT_EQ(t.run(), (std::vector<float>{1.5f, 3.5f, 5}));
}

TEST(AvgPool2d, CeilModeWithPaddingAndCountIncludePad) {
  // W = 4, k = 2, s = 2, pad 1, ceil: windows start at -1, 1, 3. With count_include_pad the
  // divisor counts the padded cell but not cells beyond the padding.
  OpTester incl = avg_pool({1, 2}, {1, 2}, {0, 1, 0, 1}, 1, 1);
  incl.input({1, 1, 1, 4}, iota(4));
  EXPECT_EQ(incl.run(), (std::vector<float>{0.5f, 2.5f, 2}));
  OpTester excl = avg_pool({1, 2}, {1, 2}, {0, 1, 0, 1}, 1, 0);
  excl.input({1, 1, 1, 4}, iota(4));
  EXPECT_EQ(excl.run(), (std::vector<float>{1, 2.5f, 4}));
}

TEST(AvgPool2d, ThreadCountInvariance) {
  OpTester t = avg_pool({3, 3}, {2, 2}, {1, 1, 1, 1}, 1, 0);
  t.random_input({4, 32, 21, 21}, 8);
  t.run();
  EXPECT_EQ(t.output_shape(), (std::vector<int64_t>{4, 32, 11, 11}));
}

// --- adaptive_avg_pool2d ----------------------------------------------------------------

OpTester adaptive(std::vector<int64_t> size) {
  OpTester t(OpKind::kAdaptiveAvgPool2d);
  t.attr_ints("output_size", size);
  return t;
}

TEST(AdaptiveAvgPool2d, OverlappingWindows) {
  // 5 -> 3: [0, 2), [1, 4), [3, 5) by start = floor(i*5/3), end = ceil((i+1)*5/3).
  OpTester t = adaptive({1, 3});
  t.input({1, 1, 1, 5}, iota(5));
  EXPECT_EQ(t.run(), (std::vector<float>{1.5f, 3, 4.5f}));
}

TEST(AdaptiveAvgPool2d, Upsampling) {
  // 2 -> 3: [0, 1), [0, 2), [1, 2).
  OpTester t = adaptive({1, 3});
  t.input({1, 1, 1, 2}, {1, 2});
  EXPECT_EQ(t.run(), (std::vector<float>{1, 1.5f, 2}));
}

TEST(AdaptiveAvgPool2d, GlobalAveragePerChannel) {
  OpTester t = adaptive({1, 1});
  t.input({1, 2, 2, 2}, {1, 2, 3, 4, 10, 20, 30, 40});
  EXPECT_EQ(t.run(), (std::vector<float>{2.5f, 25}));
  EXPECT_EQ(t.output_shape(), (std::vector<int64_t>{1, 2, 1, 1}));
}

TEST(AdaptiveAvgPool2d, GlobalAverageMatchesExactMean) {
  // Output 1x1 takes the partial-sums kernel: plane sizes around its 8-wide steps and
  // tails, against the mean computed in double.
  for (int64_t h : {1, 2, 3, 7, 9}) {
    for (int64_t w : {1, 5, 7, 8, 13}) {
      OpTester t = adaptive({1, 1});
      t.random_input({2, 3, h, w}, static_cast<uint32_t>(h * 31 + w));
      const std::vector<float> in = testing::random_values(2 * 3 * h * w, static_cast<uint32_t>(h * 31 + w));
      const std::vector<float> out = t.run();
      ASSERT_EQ(out.size(), 6u);
      for (int64_t p = 0; p < 6; ++p) {
        double sum = 0;
        for (int64_t i = 0; i < h * w; ++i) sum += in[static_cast<size_t>(p * h * w + i)];
        EXPECT_NEAR(out[static_cast<size_t>(p)], sum / static_cast<double>(h * w), 1e-6) << h << "x" << w << " plane " << p;
      }
    }
  }
}

TEST(AdaptiveAvgPool2d, ThreadCountInvariance) {
  OpTester t = adaptive({3, 5});
  t.random_input({4, 64, 17, 19}, 9);
  t.run();
}

// --- validation -------------------------------------------------------------------------

TEST(PoolValidation, PadsAboveHalfKernel) {
  OpTester t = max_pool({3, 3}, {1, 1}, {2, 0, 0, 0});
  t.input_desc(f32_desc({1, 1, 8, 8}));
  EXPECT_ARCHIVE_ERROR(t.infer(), "must be at most half the kernel");
  OpTester a = avg_pool({2, 2}, {1, 1}, {0, 0, 0, 2});
  a.input_desc(f32_desc({1, 1, 8, 8}));
  EXPECT_ARCHIVE_ERROR(a.infer(), "must be at most half the kernel");
}

TEST(PoolValidation, KernelAndStrideZero) {
  OpTester k = max_pool({0, 2}, {1, 1});
  k.input_desc(f32_desc({1, 1, 8, 8}));
  EXPECT_ARCHIVE_ERROR(k.infer(), "'kernel' must have values >= 1");
  OpTester s = avg_pool({2, 2}, {0, 1});
  s.input_desc(f32_desc({1, 1, 8, 8}));
  EXPECT_ARCHIVE_ERROR(s.infer(), "'stride' must have values >= 1");
}

TEST(PoolValidation, OutputSizeBelowOne) {
  OpTester t = max_pool({1, 2}, {1, 1});
  t.input_desc(f32_desc({1, 1, 1, 1}));
  EXPECT_ARCHIVE_ERROR(t.infer(), "output width is 0");
}

TEST(PoolValidation, BooleanAttributes) {
  OpTester t = max_pool({2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 2);
  t.input_desc(f32_desc({1, 1, 8, 8}));
  EXPECT_ARCHIVE_ERROR(t.infer(), "'ceil_mode' must be 0 or 1");
  OpTester a = avg_pool({2, 2}, {2, 2}, {0, 0, 0, 0}, 0, -1);
  a.input_desc(f32_desc({1, 1, 8, 8}));
  EXPECT_ARCHIVE_ERROR(a.infer(), "'count_include_pad' must be 0 or 1");
}

TEST(PoolValidation, NegativeDivisorOverride) {
  OpTester t = avg_pool({2, 2}, {2, 2}, {0, 0, 0, 0}, 0, 1, -3);
  t.input_desc(f32_desc({1, 1, 8, 8}));
  EXPECT_ARCHIVE_ERROR(t.infer(), "'divisor_override'");
}

TEST(PoolValidation, MissingDilation) {
  OpTester t = max_pool({2, 2}, {2, 2});
  t.remove_attr("dilation").input_desc(f32_desc({1, 1, 8, 8}));
  EXPECT_ARCHIVE_ERROR(t.infer(), "missing attribute 'dilation'");
}

TEST(PoolValidation, InputRank) {
  OpTester t = avg_pool({2, 2}, {2, 2});
  t.input_desc(f32_desc({8, 8}));
  EXPECT_ARCHIVE_ERROR(t.infer(), "must have rank 4");
}

TEST(PoolValidation, AdaptiveOutputSize) {
  OpTester zero = adaptive({0, 1});
  zero.input_desc(f32_desc({1, 1, 8, 8}));
  EXPECT_ARCHIVE_ERROR(zero.infer(), "'output_size' must have values >= 1");
  OpTester count = adaptive({1});
  count.input_desc(f32_desc({1, 1, 8, 8}));
  EXPECT_ARCHIVE_ERROR(count.infer(), "has 1 values, expected 2");
  OpTester huge = adaptive({std::numeric_limits<int64_t>::max(), 1});
  huge.input_desc(f32_desc({1, 1, 8, 8}));
  EXPECT_ARCHIVE_ERROR(huge.infer(), "too large");
}

}  // namespace
}  // namespace deployrt
