// conv2d as indirect GEMM (kernels/f32-conv/conv_igemm.h) with every microkernel variant
// against the reference f32_conv2d_ref: strides 1-3, padding, dilation, groups, 1x1 / 3x3
// / 7x7, widths around the tile widths, both workspace row layouts; the input packed and
// the rows computed in split ranges as threads do. Then the op end to end on the shapes
// conv2d.cc sends this way, at the host's ISA, 1 and 2 threads (bit-identical).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/f32-conv/conv_gemm.h"
#include "kernels/f32-conv/conv_igemm.h"
#include "kernels/reference/conv2d_ref.h"
#include "kernel_test_util.h"
#include "ops/conv2d_igemm.h"
#include "ops_test_util.h"

namespace deployrt {
namespace {

struct Case {
  int64_t n, c, h, w, oc, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, groups;
};

Conv2dShape shape_of(const Case& k) {
  Conv2dShape s = testing::conv2d_io(k.n, k.c, k.h, k.w, k.oc);
  testing::set_window(&s, k);
  s.groups = k.groups;
  s.out_height = testing::window_out_size(k.h, k.kh, k.sh, k.pt, k.pb, k.dh);
  s.out_width = testing::window_out_size(k.w, k.kw, k.sw, k.pl, k.pr, k.dw);
  return s;
}

std::string name_of(const Case& k) {
  return "x[" + std::to_string(k.n) + "," + std::to_string(k.c) + "," + std::to_string(k.h) + "," +
         std::to_string(k.w) + "] oc " + std::to_string(k.oc) + " k " + std::to_string(k.kh) + "x" +
         std::to_string(k.kw) + " s " + std::to_string(k.sh) + "," + std::to_string(k.sw) + " groups " +
         std::to_string(k.groups);
}

const Case kCases[] = {
    {1, 3, 23, 37, 20, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1},      // ResNet stem-like 7x7 s2, OW 19
    {2, 3, 17, 33, 13, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},      // MobileNetV2 stem-like, batch 2, OW 17
    {1, 8, 12, 64, 30, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},      // OW 32: whole 16- and 32-wide tiles
    {1, 5, 9, 31, 29, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},       // OW 16, OC 29 (row tails of every MR)
    {1, 16, 10, 60, 33, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1},     // strided 1x1: compact rows, one phase
    {1, 6, 13, 50, 9, 2, 3, 3, 3, 0, 1, 1, 0, 1, 1, 1},       // stride 3, 2x3 kernel: compact rows
    {1, 4, 11, 40, 12, 3, 3, 3, 2, 2, 1, 0, 2, 1, 1, 1},      // unequal strides, asymmetric pads
    {1, 4, 14, 45, 10, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1},      // dilation 2 with stride 2: one phase
    {1, 4, 14, 45, 10, 3, 3, 2, 3, 1, 1, 1, 1, 2, 2, 1},      // dilation 2, stride 3: three phases
    {1, 16, 8, 40, 24, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2},      // groups 2
    {1, 24, 6, 35, 48, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 3},      // groups 3, OW 18
    {1, 6, 9, 29, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},        // stride 1: plain padded copy
    {1, 2, 7, 7, 5, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1},         // OW 4: a tile wider than the rows
    {1, 3, 5, 40, 6, 5, 1, 1, 4, 4, 0, 4, 0, 1, 1, 1},        // rows all padding at both ends
};

std::vector<float> run_igemm(const ConvIgemmPlan& plan, const std::vector<float>& x, const std::vector<float>& w,
                             const float* bias, const float* residual, Activation act) {
  const Conv2dShape& s = plan.shape;
  AlignedBuffer packed = testing::pack_all_panels(f32_conv_igemm_pack_weight_panels, plan, w.data(),
                                                  f32_conv_igemm_packed_floats(plan), s.groups * plan.m_panels);
  const int64_t cols = s.out_height * s.out_width;
  // Filled with NaN: every float the kernel reads must have been written by the packing.
  std::vector<float> ws(plan.workspace_bytes() / sizeof(float), NAN);
  std::vector<float> y(static_cast<size_t>(s.batch * s.out_channels * cols));
  const int64_t in_image = s.in_channels * s.in_height * s.in_width, out_image = s.out_channels * cols;
  const float* a = static_cast<const float*>(packed.get());
  for (int64_t n = 0; n < s.batch; ++n) {
    const float* rn = residual != nullptr ? residual + n * out_image : nullptr;
    // In two ranges each, as two threads split them.
    const int64_t half_c = s.in_channels / 2, half_rows = plan.row_items() / 2;
    f32_conv_igemm_pack_input(plan, x.data() + n * in_image, ws.data(), half_c, s.in_channels);
    f32_conv_igemm_pack_input(plan, x.data() + n * in_image, ws.data(), 0, half_c);
    f32_conv_igemm_rows(plan, a, ws.data(), bias, rn, act, y.data() + n * out_image, half_rows, plan.row_items());
    f32_conv_igemm_rows(plan, a, ws.data(), bias, rn, act, y.data() + n * out_image, 0, half_rows);
  }
  return y;
}

TEST(ConvIgemm, EveryVariantMatchesReference) {
  const IsaLevel host = testing::host_isa();
  int count = 0;
  const F32IgemmVariant* variants = f32_igemm_variants(&count);
  int skipped = 0;
  for (int vi = 0; vi < count; ++vi) {
    const F32IgemmVariant& v = variants[vi];
    if (static_cast<int>(v.isa) > static_cast<int>(host)) {
      ++skipped;
      continue;
    }
    uint32_t seed = 7;
    for (const Case& k : kCases) {
      const Conv2dShape s = shape_of(k);
      SCOPED_TRACE(std::string(v.name) + " " + name_of(k));
      ConvIgemmPlan plan;
      ASSERT_TRUE(make_conv_igemm_plan(s, v, &plan));
      const int64_t cols = s.out_height * s.out_width;
      const std::vector<float> x = testing::random_values(s.batch * s.in_channels * s.in_height * s.in_width, seed++);
      const std::vector<float> w = testing::random_values(s.out_channels * plan.k, seed++);
      const std::vector<float> bias = testing::random_values(s.out_channels, seed++);
      const std::vector<float> residual = testing::random_values(s.batch * s.out_channels * cols, seed++);
      Activation relu;
      relu.min = 0.0f;
      for (int epilogue = 0; epilogue < 2; ++epilogue) {
        const float* b = epilogue ? bias.data() : nullptr;
        const float* r = epilogue ? residual.data() : nullptr;
        const Activation act = epilogue ? relu : Activation();
        std::vector<float> expected(residual.size());
        f32_conv2d_ref(s, x.data(), w.data(), b, r, act, expected.data(), 0, s.batch * s.out_channels);
        const std::vector<float> got = run_igemm(plan, x, w, b, r, act);
        float scale = 0.0f;
        for (float e : expected) scale = std::max(scale, std::fabs(e));
        for (size_t i = 0; i < got.size(); ++i) {
          ASSERT_NEAR(got[i], expected[i], 1e-5f * scale + 1e-6f) << "at " << i;
        }
      }
    }
  }
  if (skipped == count) GTEST_SKIP() << "no variant runs on this host";
  if (skipped > 0) std::printf("[ INFO ] %d indirect GEMM variant(s) skipped: this host lacks their ISA\n", skipped);
}

// The workspace rows: compact (KH rows per output row) only where the windows leave gaps.
TEST(ConvIgemm, CompactRowsOnlyWhereWindowsLeaveGaps) {
  int count = 0;
  const F32IgemmVariant& v = f32_igemm_variants(&count)[0];
  ConvIgemmPlan plan;
  ASSERT_TRUE(make_conv_igemm_plan(shape_of({1, 4, 56, 56, 8, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1}), v, &plan));
  EXPECT_TRUE(plan.compact_rows);
  EXPECT_EQ(plan.phases, 1);  // a 1x1 reads even columns only
  EXPECT_EQ(plan.plane_rows, 28);
  ASSERT_TRUE(make_conv_igemm_plan(shape_of({1, 4, 56, 56, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1}), v, &plan));
  EXPECT_FALSE(plan.compact_rows);
  EXPECT_EQ(plan.phases, 2);
  EXPECT_EQ(plan.plane_rows, 57);  // padded rows 0 .. 56
  EXPECT_EQ(plan.row_floats, 29);  // 28 outputs + the tap one column right
}

// The A panels are byte for byte the im2col + GEMM path's for the same MR and groups: both
// paths share one packed copy (and prepacked archives) under kConvGemmPacking.
TEST(ConvIgemm, WeightPanelsAreTheGemmPathsPanels) {
  const Case k = {1, 24, 6, 35, 50, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2};
  const Conv2dShape s = shape_of(k);
  int gemm_count = 0, igemm_count = 0;
  const F32GemmVariant* gemms = f32_gemm_variants(&gemm_count);
  const F32IgemmVariant* igemms = f32_igemm_variants(&igemm_count);
  int compared = 0;
  for (int i = 0; i < igemm_count; ++i) {
    for (int j = 0; j < gemm_count; ++j) {
      if (igemms[i].mr != gemms[j].mr) continue;
      SCOPED_TRACE(std::string(igemms[i].name) + " vs " + gemms[j].name);
      ConvIgemmPlan ip;
      ASSERT_TRUE(make_conv_igemm_plan(s, igemms[i], &ip));
      const ConvGemmPlan gp = make_conv_gemm_plan(s, gemms[j]);
      ASSERT_EQ(f32_conv_igemm_packed_floats(ip), f32_conv_gemm_packed_floats(gp));
      const std::vector<float> w = testing::random_values(s.out_channels * ip.k, 77);
      const int64_t panels = s.groups * ip.m_panels;
      AlignedBuffer a = testing::pack_all_panels(f32_conv_igemm_pack_weight_panels, ip, w.data(),
                                                 f32_conv_igemm_packed_floats(ip), panels);
      AlignedBuffer b = testing::pack_all_panels(f32_conv_gemm_pack_weight_panels, gp, w.data(),
                                                 f32_conv_gemm_packed_floats(gp), panels);
      EXPECT_EQ(std::memcmp(a.get(), b.get(), f32_conv_igemm_packed_floats(ip) * sizeof(float)), 0);
      ++compared;
    }
  }
  EXPECT_GT(compared, 0);
}

// The op end to end on shapes conv2d.cc sends to this path (checked: igemm_wins), with the
// whole epilogue, at 1 and 2 threads (OpTester::run: bit-identical), at the host's ISA.
TEST(ConvIgemm, OpMatchesReferenceWithFusedEpilogue) {
  const Case cases[] = {
      {1, 3, 45, 41, 16, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1},    // stem 7x7 s2, OW 21
      {1, 3, 34, 35, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},    // MobileNetV2 stem, OW 18
      {2, 32, 20, 33, 40, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},   // downsampling 3x3, batch 2, OW 17
      {1, 16, 8, 44, 24, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2},    // groups 2
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(name_of(k));
    const Conv2dShape s = shape_of(k);
    ASSERT_TRUE(igemm_wins(s));
    testing::ConvOpCase c = testing::conv_op_case(s, k.pb, k.pr, 0.0f, 1.5f);
    testing::expect_near_all(c.op.run(), c.expected, 2e-5f);
  }
}

}  // namespace
}  // namespace deployrt
