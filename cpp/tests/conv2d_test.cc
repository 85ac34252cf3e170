// conv2d: hand-checked cases, a textbook oracle over stride/pad/dilation/groups, and validation.
#include <gtest/gtest.h>

#include "ops_test_util.h"

namespace deployrt {
namespace {

using testing::OpTester;
using testing::expect_near_all;

OpTester conv(std::vector<int64_t> stride = {1, 1}, std::vector<int64_t> pads = {0, 0, 0, 0},
              std::vector<int64_t> dilation = {1, 1}, int64_t groups = 1) {
  OpTester t(OpKind::kConv2d);
  t.attr_ints("stride", stride).attr_ints("pads", pads).attr_ints("dilation", dilation).attr_int("groups", groups);
  return t;
}

const std::vector<float> kOneToNine = {1, 2, 3, 4, 5, 6, 7, 8, 9};  // 3x3: rows 123 / 456 / 789

TEST(Conv2d, TwoByTwoKernelNoPadding) {
  OpTester t = conv();
  t.input({1, 1, 3, 3}, kOneToNine).constant({1, 1, 2, 2}, {1, 2, 3, 4});
  // out[0,0] = 1*1 + 2*2 + 4*3 + 5*4 = 37, and so on one step right / down.
  EXPECT_EQ(t.run(), (std::vector<float>{37, 47, 67, 77}));
  EXPECT_EQ(t.output_shape(), (std::vector<int64_t>{1, 1, 2, 2}));
}

TEST(Conv2d, BiasIsAdded) {
  OpTester t = conv();
  t.input({1, 1, 3, 3}, kOneToNine).constant({1, 1, 2, 2}, {1, 2, 3, 4}).constant({1}, {0.5f});
  EXPECT_EQ(t.run(), (std::vector<float>{37.5f, 47.5f, 67.5f, 77.5f}));
}

TEST(Conv2d, AbsentBiasSlot) {
  OpTester t = conv();
  t.input({1, 1, 3, 3}, kOneToNine).constant({1, 1, 2, 2}, {1, 2, 3, 4}).absent();
  EXPECT_EQ(t.run(), (std::vector<float>{37, 47, 67, 77}));
}

TEST(Conv2d, StrideTwoWithPadding) {
  // 3x3 box filter, pad 1, stride 2: out 2x2, windows centred on the input corners.
  OpTester t = conv({2, 2}, {1, 1, 1, 1});
  t.input({1, 1, 3, 3}, kOneToNine).constant({1, 1, 3, 3}, std::vector<float>(9, 1.0f));
  EXPECT_EQ(t.run(), (std::vector<float>{1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9}));
}

TEST(Conv2d, Dilation) {
  // 2x2 kernel dilated by 2 covers the 3x3 input's corners: 1*1 + 3*2 + 7*3 + 9*4.
  OpTester t = conv({1, 1}, {0, 0, 0, 0}, {2, 2});
  t.input({1, 1, 3, 3}, kOneToNine).constant({1, 1, 2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(t.run(), (std::vector<float>{64}));
}

TEST(Conv2d, SumsOverInputChannels) {
  // ch0 = [1, 2], ch1 = [3, 4]; weights ch0 [1, 1], ch1 [10, 100]: 1 + 2 + 30 + 400.
  OpTester t = conv();
  t.input({1, 2, 1, 2}, {1, 2, 3, 4}).constant({1, 2, 1, 2}, {1, 1, 10, 100});
  EXPECT_EQ(t.run(), (std::vector<float>{433}));
}

TEST(Conv2d, DepthwiseGroups) {
  // groups = C = 2: each channel scaled by its own 1x1 weight.
  OpTester t = conv({1, 1}, {0, 0, 0, 0}, {1, 1}, 2);
  t.input({1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}).constant({2, 1, 1, 1}, {2, -1});
  EXPECT_EQ(t.run(), (std::vector<float>{2, 4, 6, 8, -5, -6, -7, -8}));
}

TEST(Conv2d, GroupsWithTwoOutputsPerGroup) {
  // groups 2, OC 4: oc0, oc1 read ch0 (x1, x2); oc2, oc3 read ch1 (x3, x4).
  OpTester t = conv({1, 1}, {0, 0, 0, 0}, {1, 1}, 2);
  t.input({1, 2, 1, 2}, {1, 2, 5, 6}).constant({4, 1, 1, 1}, {1, 2, 3, 4});
  EXPECT_EQ(t.run(), (std::vector<float>{1, 2, 2, 4, 15, 18, 20, 24}));
}

TEST(Conv2d, AsymmetricPadding) {
  // pads [top 1, left 0, bottom 0, right 1] around [[1,2],[3,4]] with a 1x1 identity.
  OpTester t = conv({1, 1}, {1, 0, 0, 1});
  t.input({1, 1, 2, 2}, {1, 2, 3, 4}).constant({1, 1, 1, 1}, {1});
  EXPECT_EQ(t.run(), (std::vector<float>{0, 0, 0, 1, 2, 0, 3, 4, 0}));
  EXPECT_EQ(t.output_shape(), (std::vector<int64_t>{1, 1, 3, 3}));
}

TEST(Conv2d, StrideOnlyAlongWidth) {
  OpTester t = conv({1, 2});
  t.input({1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}).constant({1, 1, 1, 1}, {1});
  EXPECT_EQ(t.run(), (std::vector<float>{1, 3, 5, 7}));
}

TEST(Conv2d, BatchOfTwo) {
  OpTester t = conv();
  t.input({2, 1, 1, 2}, {1, 2, 3, 4}).constant({1, 1, 1, 1}, {2}).constant({1}, {1});
  EXPECT_EQ(t.run(), (std::vector<float>{3, 5, 7, 9}));
}

TEST(Conv2d, NonConstantWeightsAreRead) {
  // Weights that are graph values (not constants) work the same.
  OpTester t = conv();
  t.input({1, 1, 3, 3}, kOneToNine).input({1, 1, 2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(t.run(), (std::vector<float>{37, 47, 67, 77}));
}

// Textbook definition of F.conv2d, one output element at a time.
std::vector<float> naive_conv2d(const std::vector<float>& x, const std::vector<int64_t>& xs,
                                const std::vector<float>& w, const std::vector<int64_t>& ws, const float* bias,
                                int64_t sh, int64_t sw, int64_t pt, int64_t pl, int64_t pb, int64_t pr, int64_t dh,
                                int64_t dw, int64_t groups) {
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], OC = ws[0], KH = ws[2], KW = ws[3];
  const int64_t OH = (H + pt + pb - dh * (KH - 1) - 1) / sh + 1;
  const int64_t OW = (W + pl + pr - dw * (KW - 1) - 1) / sw + 1;
  const int64_t cpg = C / groups, opg = OC / groups;
  std::vector<float> y(static_cast<size_t>(N * OC * OH * OW));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < OC; ++oc)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = bias ? bias[oc] : 0.0;
          for (int64_t ic = 0; ic < cpg; ++ic)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t ih = oh * sh - pt + kh * dh, iw = ow * sw - pl + kw * dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t c = (oc / opg) * cpg + ic;
                acc += double(w[((oc * cpg + ic) * KH + kh) * KW + kw]) * x[((n * C + c) * H + ih) * W + iw];
              }
          y[((n * OC + oc) * OH + oh) * OW + ow] = static_cast<float>(acc);
        }
  return y;
}

struct ConvCase {
  std::vector<int64_t> x, w;
  int64_t sh, sw, pt, pl, pb, pr, dh, dw, groups;
  bool bias;
};

TEST(Conv2d, MatchesTextbookDefinition) {
  const ConvCase cases[] = {
      {{2, 4, 9, 11}, {16, 4, 3, 3}, 1, 1, 1, 1, 1, 1, 1, 1, 1, true},   // 3x3 same
      {{2, 4, 9, 11}, {16, 4, 3, 3}, 2, 2, 1, 1, 1, 1, 1, 1, 1, false},  // stride 2
      {{1, 3, 15, 13}, {8, 3, 7, 7}, 2, 2, 3, 3, 3, 3, 1, 1, 1, true},   // ResNet stem-like
      {{2, 6, 10, 10}, {6, 1, 3, 3}, 1, 1, 1, 1, 1, 1, 1, 1, 6, true},   // depthwise
      {{2, 6, 10, 10}, {12, 2, 3, 3}, 1, 2, 2, 0, 1, 2, 2, 1, 3, true},  // groups 3, dilation, asym pads
      {{2, 16, 7, 7}, {24, 16, 1, 1}, 1, 1, 0, 0, 0, 0, 1, 1, 1, true},  // pointwise fast path
      {{1, 4, 12, 12}, {8, 4, 1, 1}, 2, 2, 0, 0, 0, 0, 1, 1, 1, false},  // strided 1x1 (downsample)
      {{1, 2, 5, 5}, {4, 2, 3, 2}, 3, 1, 0, 2, 1, 0, 1, 3, 1, true},     // rectangular kernel, odd strides
  };
  uint32_t seed = 1;
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(testing::f32_desc(c.x).to_string() + " * " + testing::f32_desc(c.w).to_string());
    OpTester t = conv({c.sh, c.sw}, {c.pt, c.pl, c.pb, c.pr}, {c.dh, c.dw}, c.groups);
    const std::vector<float> x = testing::random_values(testing::numel_of(c.x), seed++);
    const std::vector<float> w = testing::random_values(testing::numel_of(c.w), seed++);
    const std::vector<float> b = testing::random_values(c.w[0], seed++);
    t.input(c.x, x).constant(c.w, w);
    if (c.bias) t.constant({c.w[0]}, b);
    const std::vector<float> expected = naive_conv2d(x, c.x, w, c.w, c.bias ? b.data() : nullptr, c.sh, c.sw, c.pt,
                                                     c.pl, c.pb, c.pr, c.dh, c.dw, c.groups);
    expect_near_all(t.run(), expected, 1e-4f);
  }
}

TEST(Conv2d, NaNInInputPropagates) {
  OpTester t = conv();
  t.input({1, 1, 1, 2}, {NAN, 1}).constant({1, 1, 1, 1}, {2});
  const std::vector<float> y = t.run();
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], 2);
}

// --- validation -------------------------------------------------------------------------

OpTester valid_conv() {
  OpTester t = conv();
  t.input({1, 4, 8, 8}, std::vector<float>(256)).constant({8, 4, 3, 3}, std::vector<float>(288));
  return t;
}

TEST(Conv2dValidation, ValidNodeInfers) {
  OpTester t = valid_conv();
  ASSERT_TRUE(t.infer().ok());
  EXPECT_EQ(t.output_desc().to_string(), "f32[1,8,6,6]");
}

TEST(Conv2dValidation, ErrorNamesOpNodeAndSource) {
  OpTester t = valid_conv();
  t.name("layer1.0.conv1", "model.py:12").remove_attr("groups");
  const Status st = t.infer();
  EXPECT_EQ(st.code(), ErrorCode::kArchive);
  EXPECT_EQ(st.message().rfind("conv2d 'layer1.0.conv1' (model.py:12): ", 0), 0u) << st.message();
  EXPECT_NE(st.message().find("groups"), std::string::npos);
}

TEST(Conv2dValidation, GroupsMustDivideChannels) {
  OpTester a(OpKind::kConv2d);
  a.attr_ints("stride", {1, 1}).attr_ints("pads", {0, 0, 0, 0}).attr_ints("dilation", {1, 1}).attr_int("groups", 3);
  a.input_desc(testing::f32_desc({1, 4, 8, 8})).input_desc(testing::f32_desc({6, 1, 3, 3}));
  EXPECT_ARCHIVE_ERROR(a.infer(), "groups 3 must divide");
  OpTester b(OpKind::kConv2d);  // divides C (6) but not OC (4)
  b.attr_ints("stride", {1, 1}).attr_ints("pads", {0, 0, 0, 0}).attr_ints("dilation", {1, 1}).attr_int("groups", 3);
  b.input_desc(testing::f32_desc({1, 6, 8, 8})).input_desc(testing::f32_desc({4, 2, 3, 3}));
  EXPECT_ARCHIVE_ERROR(b.infer(), "groups 3 must divide");
}

TEST(Conv2dValidation, GroupsZero) {
  OpTester t = valid_conv();
  t.remove_attr("groups").attr_int("groups", 0);
  EXPECT_ARCHIVE_ERROR(t.infer(), "'groups' must be >= 1");
}

TEST(Conv2dValidation, WeightChannelsMustMatch) {
  OpTester t = conv();
  t.input_desc(testing::f32_desc({1, 4, 8, 8})).input_desc(testing::f32_desc({8, 3, 3, 3}));
  EXPECT_ARCHIVE_ERROR(t.infer(), "input channels per group");
}

TEST(Conv2dValidation, StrideZero) {
  OpTester t = valid_conv();
  t.remove_attr("stride").attr_ints("stride", {1, 0});
  EXPECT_ARCHIVE_ERROR(t.infer(), "'stride' must have values >= 1");
}

TEST(Conv2dValidation, DilationZero) {
  OpTester t = valid_conv();
  t.remove_attr("dilation").attr_ints("dilation", {0, 1});
  EXPECT_ARCHIVE_ERROR(t.infer(), "'dilation' must have values >= 1");
}

TEST(Conv2dValidation, NegativePads) {
  OpTester t = valid_conv();
  t.remove_attr("pads").attr_ints("pads", {0, -1, 0, 0});
  EXPECT_ARCHIVE_ERROR(t.infer(), "'pads' must have values >= 0");
}

TEST(Conv2dValidation, OutputSizeBelowOne) {
  OpTester t = conv();
  t.input_desc(testing::f32_desc({1, 1, 2, 2})).input_desc(testing::f32_desc({1, 1, 3, 3}));
  EXPECT_ARCHIVE_ERROR(t.infer(), "output height would be < 1");
  OpTester d = conv({1, 1}, {0, 0, 0, 0}, {4, 4});  // dilated kernel spans 9 > 8
  d.input_desc(testing::f32_desc({1, 4, 8, 8})).input_desc(testing::f32_desc({8, 4, 3, 3}));
  EXPECT_ARCHIVE_ERROR(d.infer(), "dilated kernel 9");
}

TEST(Conv2dValidation, MissingAttribute) {
  OpTester t = valid_conv();
  t.remove_attr("pads");
  EXPECT_ARCHIVE_ERROR(t.infer(), "missing attribute 'pads'");
}

TEST(Conv2dValidation, WrongAttributeType) {
  OpTester t = valid_conv();
  t.remove_attr("stride").attr_int("stride", 1);
  EXPECT_ARCHIVE_ERROR(t.infer(), "attribute 'stride' has type INT, expected INTS");
  OpTester g = valid_conv();
  g.remove_attr("groups").attr_float("groups", 1.0);
  EXPECT_ARCHIVE_ERROR(g.infer(), "attribute 'groups' has type FLOAT, expected INT");
}

TEST(Conv2dValidation, WrongAttributeCount) {
  OpTester t = valid_conv();
  t.remove_attr("pads").attr_ints("pads", {1, 1});
  EXPECT_ARCHIVE_ERROR(t.infer(), "attribute 'pads' has 2 values, expected 4");
}

TEST(Conv2dValidation, InputRankAndDtype) {
  OpTester r = conv();
  r.input_desc(testing::f32_desc({4, 8, 8})).input_desc(testing::f32_desc({8, 4, 3, 3}));
  EXPECT_ARCHIVE_ERROR(r.infer(), "input 'x' must have rank 4");
  TensorDesc i32 = testing::f32_desc({1, 4, 8, 8});
  i32.dtype = DType::kI32;
  OpTester d = conv();
  d.input_desc(i32).input_desc(testing::f32_desc({8, 4, 3, 3}));
  EXPECT_ARCHIVE_ERROR(d.infer(), "input 'x' must be f32");
}

TEST(Conv2dValidation, BiasShape) {
  OpTester t = valid_conv();
  t.input_desc(testing::f32_desc({7}));
  EXPECT_ARCHIVE_ERROR(t.infer(), "input 'bias' must be f32[8]");
}

TEST(Conv2dValidation, InputCount) {
  OpTester t = conv();
  t.input_desc(testing::f32_desc({1, 4, 8, 8}));
  EXPECT_ARCHIVE_ERROR(t.infer(), "has 1 inputs, expected 2 to 4");
}

}  // namespace
}  // namespace deployrt
