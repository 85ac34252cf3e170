// conv2d as packed GEMM (kernels/f32-conv) with every microkernel variant, in both work
// orders, against the reference f32_conv2d_ref: strides, padding, dilation, groups, 1x1,
// 7x7, and OC / OH*OW / K around the tile sizes. Also the op end to end at the host's ISA.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/f32-conv/conv_gemm.h"
#include "kernels/reference/conv2d_ref.h"
#include "kernel_test_util.h"
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

const Case kCases[] = {
    {1, 3, 5, 5, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},         // one output row of the GEMM, 1x1
    {1, 16, 7, 7, 24, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},       // pointwise, OH*OW = 49: B read in place
    {2, 8, 5, 7, 12, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2},        // grouped pointwise, batch 2, 35 columns
    {2, 8, 9, 11, 30, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},       // 3x3 same, batch 2, OC 30 (tails)
    {1, 5, 12, 12, 28, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},      // stride 2, OC = 28
    {1, 3, 23, 19, 14, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1},      // ResNet stem-like 7x7
    {1, 8, 10, 10, 16, 3, 3, 1, 1, 2, 0, 1, 2, 2, 1, 2},      // groups 2, dilation, asymmetric pads
    {1, 24, 6, 6, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3},       // groups 3
    {1, 4, 8, 16, 33, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1},       // strided 1x1 (downsample)
    {1, 6, 4, 33, 15, 2, 3, 1, 3, 0, 1, 1, 0, 1, 2, 1},       // rectangular kernel, odd strides
    {1, 64, 6, 6, 29, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},       // K = 576
    {1, 4, 8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4},         // groups = C (depthwise multiplier 2)
    {1, 2, 6, 299, 5, 1, 300, 1, 1, 0, 1, 0, 1, 1, 1, 1},     // 1x300 over OW = 2: im2col's general walk
    {1, 2, 6, 299, 5, 2, 300, 2, 1, 1, 1, 1, 0, 1, 1, 1},     // the same with stride, row padding
    {1, 200, 32, 32, 20, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},    // pointwise, K = 200 over rows 4 KiB apart: packed
    {1, 150, 32, 33, 20, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},    // the same at K = 150: read in place
};

enum class Order { kColumns, kTiles };

std::vector<float> run_gemm(const ConvGemmPlan& plan, const std::vector<float>& x, const std::vector<float>& w,
                            const float* bias, const float* residual, Activation act, Order order) {
  const Conv2dShape& s = plan.shape;
  AlignedBuffer packed = testing::pack_all_panels(f32_conv_gemm_pack_weight_panels, plan, w.data(),
                                                  f32_conv_gemm_packed_floats(plan), s.groups * plan.m_panels);
  // Columns: the panels split into up to 3 ranges, as threads take them, each packing
  // into its own one-panel slot; the workspace is exactly those slots. NaN-filled, so a
  // read of scratch the kernel did not write shows in the output.
  const int64_t columns = plan.groups_columns();
  const int64_t ranges = std::min<int64_t>(3, columns);
  const size_t ws_floats = order == Order::kColumns ? static_cast<size_t>(ranges * plan.b_panel_floats())
                                                    : plan.workspace_bytes() / sizeof(float);
  std::vector<float> ws(std::max<size_t>(ws_floats, 1), std::nanf(""));
  std::vector<float> y(static_cast<size_t>(s.batch * s.out_channels * plan.cols));
  const int64_t in_image = s.in_channels * s.in_height * s.in_width, out_image = s.out_channels * plan.cols;
  const float* a = static_cast<const float*>(packed.get());
  for (int64_t n = 0; n < s.batch; ++n) {
    const float* rn = residual != nullptr ? residual + n * out_image : nullptr;
    if (order == Order::kColumns) {
      for (int64_t r = ranges - 1; r >= 0; --r) {  // last range first: ranges are independent
        f32_conv_gemm_columns(plan, a, x.data() + n * in_image, ws.data() + r * plan.b_panel_floats(), bias, rn, act,
                              y.data() + n * out_image, r * columns / ranges, (r + 1) * columns / ranges);
      }
    } else {
      if (!plan.direct) f32_conv_gemm_pack_b(plan, x.data() + n * in_image, ws.data(), 0, plan.groups_columns());
      f32_conv_gemm_tiles(plan, a, x.data() + n * in_image, ws.data(), bias, rn, act, y.data() + n * out_image, 0,
                          s.groups * plan.m_panels * plan.n_panels);
    }
  }
  return y;
}

TEST(ConvGemm, EveryVariantMatchesReference) {
  const IsaLevel host = testing::host_isa();
  int count = 0;
  const F32GemmVariant* variants = f32_gemm_variants(&count);
  int skipped = 0;
  for (int vi = 0; vi < count; ++vi) {
    const F32GemmVariant& v = variants[vi];
    if (static_cast<int>(v.isa) > static_cast<int>(host)) {
      ++skipped;
      continue;
    }
    uint32_t seed = 7;
    for (const Case& k : kCases) {
      const Conv2dShape s = shape_of(k);
      SCOPED_TRACE(std::string(v.name) + " x[" + std::to_string(k.n) + "," + std::to_string(k.c) + "," +
                   std::to_string(k.h) + "," + std::to_string(k.w) + "] oc " + std::to_string(k.oc) + " k " +
                   std::to_string(k.kh) + "x" + std::to_string(k.kw) + " groups " + std::to_string(k.groups));
      const ConvGemmPlan plan = make_conv_gemm_plan(s, v);
      const std::vector<float> x = testing::random_values(s.batch * s.in_channels * s.in_height * s.in_width, seed++);
      const std::vector<float> w = testing::random_values(s.out_channels * plan.k, seed++);
      const std::vector<float> bias = testing::random_values(s.out_channels, seed++);
      const std::vector<float> residual = testing::random_values(s.batch * s.out_channels * plan.cols, seed++);
      Activation relu;
      relu.min = 0.0f;
      for (int variant_epilogue = 0; variant_epilogue < 2; ++variant_epilogue) {
        const float* b = variant_epilogue ? bias.data() : nullptr;
        const float* r = variant_epilogue ? residual.data() : nullptr;
        const Activation act = variant_epilogue ? relu : Activation();
        std::vector<float> expected(residual.size());
        f32_conv2d_ref(s, x.data(), w.data(), b, r, act, expected.data(), 0, s.batch * s.out_channels);
        for (Order order : {Order::kColumns, Order::kTiles}) {
          const std::vector<float> got = run_gemm(plan, x, w, b, r, act, order);
          float scale = 0.0f;
          for (float e : expected) scale = std::max(scale, std::fabs(e));
          for (size_t i = 0; i < got.size(); ++i) {
            ASSERT_NEAR(got[i], expected[i], 1e-5f * scale + 1e-6f)
                << "at " << i << (order == Order::kColumns ? " (columns)" : " (tiles)");
          }
        }
      }
    }
  }
  if (skipped == count) GTEST_SKIP() << "no variant runs on this host";
  if (skipped > 0) std::printf("[ INFO ] %d GEMM variant(s) skipped: this host lacks their ISA\n", skipped);
}

// The op end to end (it picks the GEMM path for constant weights) on a ResNet-like
// downsampling 3x3 (stride 2: stride-1 3x3 convs go to Winograd, winograd_test.cc) with
// the whole epilogue, against the reference, at 1 and 2 threads (bit-identical).
TEST(ConvGemm, OpMatchesReferenceWithFusedEpilogue) {
  const Case k = {1, 32, 14, 14, 40, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1};
  testing::ConvOpCase c = testing::conv_op_case(shape_of(k), k.pb, k.pr, 0.0f, 1.5f);
  testing::expect_near_all(c.op.run(), c.expected, 1e-5f);
}

// Weights and B both past the 1 MiB the op keeps cached (A 240 x 1152, B 1152 x 256 over
// 6-16 panels): it goes column-first, streaming the weights once per B panel, like ResNet-50's
// layer3.0.conv2 (the order is not observable here: this checks its results).
TEST(ConvGemm, OpWithLargeWeightsAndColumnsMatchesReference) {
  const Case k = {1, 128, 32, 32, 240, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1};
  testing::ConvOpCase c = testing::conv_op_case(shape_of(k), k.pb, k.pr, 0.0f, 6.0f);
  testing::expect_near_all(c.op.run(), c.expected, 2e-5f);
}

// A pointwise projection with long reductions and few column panels (MobileNetV2's 14x14
// 576 -> 96, batch 2): with 49-column tiles its 4 panels go column-first at 2 threads as
// at 1 (2 + 2 panels), with narrower tiles there are enough panels anyway; every way, the
// outputs match the reference and are bit-identical at 1 and 2 threads.
TEST(ConvGemm, OpSplitsFewColumnPanelsEvenlyOverThreads) {
  const Case k = {2, 576, 14, 14, 96, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1};
  testing::ConvOpCase c = testing::conv_op_case(shape_of(k), k.pb, k.pr, 0.0f, 6.0f);
  testing::expect_near_all(c.op.run(), c.expected, 2e-5f);
}

// A pointwise conv reads its input in place when few output rows share it, unless the
// reduction is long and its rows lie a page or more apart (then each k step would touch
// a new page): the rule of make_conv_gemm_plan, on both sides of each bound.
TEST(ConvGemm, PointwiseReadsInPlaceUnlessLongReductionOverFarRows) {
  int count = 0;
  const F32GemmVariant& tile = f32_gemm_variants(&count)[0];  // any tile: the rule counts its panels
  auto direct = [&](int64_t c, int64_t h, int64_t w, int64_t oc) {
    const Case k = {1, c, h, w, oc, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1};
    return make_conv_gemm_plan(shape_of(k), tile).direct;
  };
  const int64_t few_rows = tile.mr * 8;
  EXPECT_TRUE(direct(192, 32, 32, few_rows));       // rows 4 KiB apart, K at the bound
  EXPECT_FALSE(direct(193, 32, 32, few_rows));      // one more row of reduction
  EXPECT_TRUE(direct(2048, 31, 33, few_rows));      // rows 4092 bytes apart: any K
  EXPECT_TRUE(direct(1000, 14, 14, few_rows));      // rows close together: any K
  EXPECT_FALSE(direct(64, 14, 14, few_rows + 1));   // too many output rows
}

// B panels packed in pieces along the channels (fewer panels than threads) are the same
// bytes as whole panels, for any number of pieces, with padding and a column tail.
TEST(ConvGemm, PanelPiecesPackTheSameBytesAsWholePanels) {
  const Case k = {1, 13, 9, 9, 40, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1};  // 5x5 output: one panel
  int count = 0;
  const F32GemmVariant& tile = f32_gemm_variants(&count)[0];
  const ConvGemmPlan plan = make_conv_gemm_plan(shape_of(k), tile);
  const std::vector<float> x = testing::random_values(k.c * k.h * k.w, 3);
  std::vector<float> whole(plan.workspace_bytes() / sizeof(float), -1.0f);
  f32_conv_gemm_pack_b(plan, x.data(), whole.data(), 0, plan.groups_columns());
  for (int64_t parts : {1, 2, 3, 5, 13}) {
    std::vector<float> pieces(whole.size(), -2.0f);
    // Out of order, as threads may claim them.
    f32_conv_gemm_pack_b_pieces(plan, parts, x.data(), pieces.data(), parts / 2, plan.groups_columns() * parts);
    f32_conv_gemm_pack_b_pieces(plan, parts, x.data(), pieces.data(), 0, parts / 2);
    EXPECT_EQ(pieces, whole) << parts << " pieces";
  }
}

// Weights large enough that the op packs them over the pool's threads (pieces of at least
// 512 KiB: 256 -> 288 channels, 3x3, so ~130 KiB per A panel and a row tail): the panels
// packed by the second thread must be the same as packed by one.
TEST(ConvGemm, OpPacksLargeWeightsOverThreads) {
  const Case k = {1, 256, 7, 7, 290, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1};
  testing::ConvOpCase c = testing::conv_op_case(shape_of(k), k.pb, k.pr, 0.0f, 3.0f);
  testing::expect_near_all(c.op.run(), c.expected, 2e-5f);
}

}  // namespace
}  // namespace deployrt
