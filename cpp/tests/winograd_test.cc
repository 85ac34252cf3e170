// Winograd F(4x4, 3x3) (kernels/f32-winograd) with every transform variant and every
// compatible GEMM microkernel the host runs, against the reference f32_conv2d_ref: output
// sizes that are not multiples of 4 (right/bottom tail tiles), 1x1 and 2x2 outputs, odd
// channel counts, OC around the microkernel heights, padding 0 / 1 / asymmetric, batch 2
// with tile chunks spanning images, and the fused epilogue (bias, residual, clamp).
// Also the op end to end (dispatch picks Winograd) at 1 and 2 threads (bit-identical), the
// weight transform variants against the scalar one (bit-exact) and G g G^T in double, and
// the per-call weight mode against the packed one (bit-exact).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/f32-winograd/winograd.h"
#include "kernels/reference/conv2d_ref.h"
#include "ops/conv2d_winograd.h"
#include "kernel_test_util.h"
#include "ops_test_util.h"

namespace deployrt {
namespace {

struct Case {
  int64_t n, c, h, w, oc, pt, pl, pb, pr;
};

Conv2dShape shape_of(const Case& k) {
  Conv2dShape s = testing::conv2d_io(k.n, k.c, k.h, k.w, k.oc);
  s.kernel_h = s.kernel_w = 3;
  s.pad_top = k.pt;
  s.pad_left = k.pl;
  s.out_height = k.h + k.pt + k.pb - 2;
  s.out_width = k.w + k.pl + k.pr - 2;
  return s;
}

const Case kCases[] = {
    {1, 1, 1, 1, 1, 1, 1, 1, 1},           // 1x1 output from a 1x1 input, all padding
    {1, 3, 3, 3, 5, 0, 0, 0, 0},           // 1x1 output, no padding
    {1, 2, 2, 2, 3, 1, 1, 1, 1},           // 2x2 output
    {2, 5, 7, 9, 7, 1, 1, 1, 1},           // 7x9: tail tiles on both edges, batch 2
    {1, 17, 10, 13, 33, 1, 1, 1, 1},       // odd C, OC past 28 and 32 (row tails)
    {1, 8, 2, 18, 29, 1, 0, 1, 0},         // one tile row, pads only on top/bottom
    {1, 16, 14, 14, 30, 0, 0, 0, 0},       // padding 0: 12x12, whole tiles only
    {1, 12, 11, 6, 15, 1, 0, 2, 1},        // asymmetric padding
    {1, 32, 8, 8, 64, 1, 1, 1, 1},         // OH = OW = 8: whole tiles, OC a multiple of 16
    {2, 300, 10, 10, 290, 1, 1, 1, 1},     // several tile chunks, a chunk spanning two images
};

struct Pair {
  const F32WinogradVariant* xform;
  const F32GemmVariant* gemm;
};

// Every (transform, GEMM) pairing the host runs whose panel width fits the transform lanes.
std::vector<Pair> runnable_pairs(int* skipped) {
  const IsaLevel host = testing::host_isa();
  int xn = 0, gn = 0;
  const F32WinogradVariant* xs = f32_winograd_variants(&xn);
  const F32GemmVariant* gs = f32_gemm_variants(&gn);
  std::vector<Pair> pairs;
  *skipped = 0;
  for (int i = 0; i < xn; ++i) {
    if (static_cast<int>(xs[i].isa) > static_cast<int>(host)) {
      ++*skipped;
      continue;
    }
    for (int j = 0; j < gn; ++j) {
      if (static_cast<int>(gs[j].isa) <= static_cast<int>(host) && gs[j].nr % xs[i].lanes == 0) {
        pairs.push_back({&xs[i], &gs[j]});
      }
    }
  }
  return pairs;
}

// The three phases over every chunk, each in two halves (as two threads would split them).
std::vector<float> run_winograd(const WinogradPlan& p, const std::vector<float>& x, const std::vector<float>& w,
                                const float* bias, const float* residual, Activation act) {
  const Conv2dShape& s = p.shape;
  AlignedBuffer packed =
      testing::pack_all_panels(f32_winograd_pack_weight_panels, p, w.data(), f32_winograd_packed_floats(p), p.m_panels);
  std::vector<float> ws(p.workspace_bytes() / sizeof(float) + 16);
  float* v = ws.data() + (16 - reinterpret_cast<uintptr_t>(ws.data()) / sizeof(float) % 16) % 16;
  float* m = v + p.v_floats();
  std::vector<float> y(static_cast<size_t>(s.batch * s.out_channels * s.out_height * s.out_width), -7.0f);
  const float* u = static_cast<const float*>(packed.get());
  for (int64_t chunk = 0; chunk < p.chunks(); ++chunk) {
    const int64_t cb = chunk * p.chunk_tiles, ce = std::min(p.tiles, cb + p.chunk_tiles);
    const int64_t in_items = f32_winograd_lane_groups(p, cb, ce) * s.in_channels;
    const int64_t out_items = f32_winograd_lane_groups(p, cb, ce) * s.out_channels;
    const int64_t gemm_items = f32_winograd_gemm_items(p, cb, ce);
    p.xform.input(p, x.data(), cb, ce, v, 0, in_items / 3);
    p.xform.input(p, x.data(), cb, ce, v, in_items / 3, in_items);
    f32_winograd_gemm(p, u, v, m, cb, ce, 0, gemm_items / 2);
    f32_winograd_gemm(p, u, v, m, cb, ce, gemm_items / 2, gemm_items);
    p.xform.output(p, m, cb, ce, bias, residual, act, y.data(), 0, out_items / 2);
    p.xform.output(p, m, cb, ce, bias, residual, act, y.data(), out_items / 2, out_items);
  }
  return y;
}

// A 64-byte aligned view into `storage` of `floats` floats (test buffers for kernels that
// expect the runtime's aligned workspaces).
float* aligned_floats(std::vector<float>& storage, size_t floats, float fill) {
  storage.assign(floats + 16, fill);
  return storage.data() + (16 - reinterpret_cast<uintptr_t>(storage.data()) / sizeof(float) % 16) % 16;
}

// The per-call order over the plan's one chunk: input transform; then per A panel (last
// first, as a thread that got the later panels would), U into one slot, that panel's GEMMs
// and the output transform of its rows.
std::vector<float> run_winograd_per_call(const WinogradPlan& p, const std::vector<float>& x,
                                         const std::vector<float>& w, const float* bias, const float* residual,
                                         Activation act) {
  const Conv2dShape& s = p.shape;
  std::vector<float> ws_storage, u_storage;
  float* v = aligned_floats(ws_storage, p.workspace_bytes() / sizeof(float), 0.0f);
  float* m = v + p.v_floats();
  float* u = aligned_floats(u_storage, static_cast<size_t>(p.u_slot_floats()), NAN);  // every read float is written
  std::vector<float> y(static_cast<size_t>(s.batch * s.out_channels * s.out_height * s.out_width), -7.0f);
  const int64_t groups = f32_winograd_lane_groups(p, 0, p.tiles);
  p.xform.input(p, x.data(), 0, p.tiles, v, 0, groups * s.in_channels);
  for (int64_t mp = p.m_panels - 1; mp >= 0; --mp) {
    p.xform.weight(p, w.data(), mp, u, p.u_xi_stride());
    f32_winograd_gemm_panel(p, u, p.u_xi_stride(), v, m, 0, p.tiles, mp);
    const int64_t row0 = mp * p.gemm.mr, rows = std::min<int64_t>(p.gemm.mr, s.out_channels - row0);
    for (int64_t g = 0; g < groups; ++g) {
      p.xform.output(p, m, 0, p.tiles, bias, residual, act, y.data(), g * s.out_channels + row0,
                     g * s.out_channels + row0 + rows);
    }
  }
  return y;
}

// The largest |output| before the clamp: what the rounding error scales with.
float unclamped_scale(const Conv2dShape& s, const std::vector<float>& x, const std::vector<float>& w,
                      const float* bias, const float* residual) {
  std::vector<float> raw(static_cast<size_t>(s.batch * s.out_channels * s.out_height * s.out_width));
  f32_conv2d_ref(s, x.data(), w.data(), bias, residual, Activation(), raw.data(), 0, s.batch * s.out_channels);
  float scale = 0.0f;
  for (float e : raw) scale = std::max(scale, std::fabs(e));
  return scale;
}

// Winograd F(4,3) rounds more than a direct sum (the transforms scale values by up to 8
// and 1/6, and the error grows with C); relative to the largest |output| before the clamp
// it measures 4e-6 at 16-64 channels and 1e-5 at 128 (2e-5 at 512, beyond these cases).
constexpr float kRelTol = 2e-5f;

TEST(Winograd, EveryVariantMatchesReference) {
  int skipped = 0;
  const std::vector<Pair> pairs = runnable_pairs(&skipped);
  ASSERT_FALSE(pairs.empty());  // the scalar pairing always runs
  uint32_t seed = 11;
  for (const Case& k : kCases) {
    const Conv2dShape s = shape_of(k);
    SCOPED_TRACE("x[" + std::to_string(k.n) + "," + std::to_string(k.c) + "," + std::to_string(k.h) + "," +
                 std::to_string(k.w) + "] oc " + std::to_string(k.oc) + " pads " + std::to_string(k.pt) + "," +
                 std::to_string(k.pl) + "," + std::to_string(k.pb) + "," + std::to_string(k.pr));
    ASSERT_TRUE(f32_winograd_supports(s));
    const int64_t out_numel = s.batch * s.out_channels * s.out_height * s.out_width;
    const std::vector<float> x = testing::random_values(s.batch * s.in_channels * s.in_height * s.in_width, seed++);
    const std::vector<float> w = testing::random_values(s.out_channels * s.in_channels * 9, seed++);
    const std::vector<float> bias = testing::random_values(s.out_channels, seed++);
    const std::vector<float> residual = testing::random_values(out_numel, seed++);
    for (int epilogue = 0; epilogue < 3; ++epilogue) {
      // 0: none; 1: bias + residual + ReLU; 2: bias + clamp to [-0.5, 0.5] (ReLU6-like)
      const float* b = epilogue > 0 ? bias.data() : nullptr;
      const float* r = epilogue == 1 ? residual.data() : nullptr;
      Activation act;
      if (epilogue == 1) act.min = 0.0f;
      if (epilogue == 2) act.min = -0.5f, act.max = 0.5f;
      std::vector<float> expected(static_cast<size_t>(out_numel));
      f32_conv2d_ref(s, x.data(), w.data(), b, r, act, expected.data(), 0, s.batch * s.out_channels);
      const float scale = unclamped_scale(s, x, w, b, r);
      for (const Pair& pair : pairs) {
        SCOPED_TRACE(std::string(pair.xform->name) + " + " + pair.gemm->name + " epilogue " +
                     std::to_string(epilogue));
        const WinogradPlan plan = make_winograd_plan(s, *pair.gemm, *pair.xform);
        const std::vector<float> got = run_winograd(plan, x, w, b, r, act);
        for (size_t i = 0; i < got.size(); ++i) {
          ASSERT_NEAR(got[i], expected[i], kRelTol * scale + 1e-6f) << "at " << i;
        }
      }
    }
  }
  if (skipped > 0) std::printf("[ INFO ] %d Winograd variant(s) skipped: this host lacks their ISA\n", skipped);
}

// The per-call weight mode (U per A panel into a slot, right before its GEMMs) gives exactly
// the packed mode's outputs, for every pairing and every single-chunk case.
TEST(Winograd, PerCallWeightsMatchPackedBitExactly) {
  int skipped = 0;
  const std::vector<Pair> pairs = runnable_pairs(&skipped);
  uint32_t seed = 41;
  int compared = 0;
  for (const Case& k : kCases) {
    const Conv2dShape s = shape_of(k);
    const int64_t out_numel = s.batch * s.out_channels * s.out_height * s.out_width;
    const std::vector<float> x = testing::random_values(s.batch * s.in_channels * s.in_height * s.in_width, seed++);
    const std::vector<float> w = testing::random_values(s.out_channels * s.in_channels * 9, seed++);
    const std::vector<float> bias = testing::random_values(s.out_channels, seed++);
    const std::vector<float> residual = testing::random_values(out_numel, seed++);
    Activation act;
    act.min = 0.0f;
    for (const Pair& pair : pairs) {
      const WinogradPlan plan = make_winograd_plan(s, *pair.gemm, *pair.xform);
      if (plan.chunks() != 1) continue;  // the per-call mode runs one chunk
      SCOPED_TRACE(std::string(pair.xform->name) + " + " + pair.gemm->name + " oc " + std::to_string(k.oc) + " c " +
                   std::to_string(k.c));
      const std::vector<float> packed = run_winograd(plan, x, w, bias.data(), residual.data(), act);
      const std::vector<float> per_call = run_winograd_per_call(plan, x, w, bias.data(), residual.data(), act);
      ASSERT_EQ(packed.size(), per_call.size());
      ASSERT_EQ(std::memcmp(packed.data(), per_call.data(), packed.size() * sizeof(float)), 0);
      ++compared;
    }
  }
  EXPECT_GT(compared, 0);
}

// Every weight transform variant the host runs writes exactly the scalar variant's U, for
// every GEMM tile height (MR 4, 6, 8, 14, 16, 28: partial SIMD steps), OC tails (OC not a
// multiple of MR: zero rows) and channel counts; and the scalar U is G g G^T (in double).
TEST(Winograd, WeightTransformVariantsMatchScalarAndExactTransform) {
  // F(4x4, 3x3)'s G (Lavin & Gray 2015): points 0, 1, -1, 2, -2, inf.
  const double G[6][3] = {{1.0 / 4, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                          {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6},  {0, 0, 1}};
  int xn = 0, gn = 0;
  const F32WinogradVariant* xs = f32_winograd_variants(&xn);
  const F32GemmVariant* gs = f32_gemm_variants(&gn);
  ASSERT_STREQ(xs[0].name, "scalar");
  const IsaLevel host = testing::host_isa();
  uint32_t seed = 71;
  for (int j = 0; j < gn; ++j) {  // only MR matters: the GEMM itself is not called
    const int64_t mr = gs[j].mr;
    for (int64_t c : {int64_t{1}, int64_t{3}, int64_t{17}, int64_t{40}}) {
      for (int64_t oc : {int64_t{1}, mr - 1, mr + 1, 2 * mr + 3, int64_t{45}}) {
        if (oc < 1) continue;
        SCOPED_TRACE(std::string(gs[j].name) + " c " + std::to_string(c) + " oc " + std::to_string(oc));
        const Conv2dShape s = shape_of({1, c, 6, 6, oc, 1, 1, 1, 1});
        const WinogradPlan plan = make_winograd_plan(s, gs[j], xs[0]);
        const std::vector<float> w = testing::random_values(oc * c * 9, seed++);
        float max_g = 0.0f;
        for (float e : w) max_g = std::max(max_g, std::fabs(e));
        const size_t floats = static_cast<size_t>(kWinogradPoints * plan.a_panel_floats());
        for (int64_t mp = 0; mp < plan.m_panels; ++mp) {
          std::vector<float> want_storage;
          float* want = aligned_floats(want_storage, floats, NAN);
          xs[0].weight(plan, w.data(), mp, want, plan.a_panel_floats());
          for (int64_t r = 0; r < mr; ++r) {
            const int64_t o = mp * mr + r;
            for (int64_t ci = 0; ci < c; ++ci) {
              for (int xi = 0; xi < kWinogradPoints; ++xi) {
                const float got = want[xi * plan.a_panel_floats() + ci * mr + r];
                double exact = 0.0;
                if (o < oc) {
                  const float* g = w.data() + (o * c + ci) * 9;
                  for (int a = 0; a < 3; ++a) {
                    for (int b = 0; b < 3; ++b) exact += G[xi / 6][a] * g[a * 3 + b] * G[xi % 6][b];
                  }
                }
                ASSERT_NEAR(got, exact, 1e-6 * max_g) << "row " << r << " channel " << ci << " position " << xi;
              }
            }
          }
          for (int i = 1; i < xn; ++i) {
            if (static_cast<int>(xs[i].isa) > static_cast<int>(host)) continue;
            std::vector<float> got_storage;
            float* got = aligned_floats(got_storage, floats, NAN);
            xs[i].weight(plan, w.data(), mp, got, plan.a_panel_floats());
            ASSERT_EQ(std::memcmp(got, want, floats * sizeof(float)), 0) << xs[i].name << " panel " << mp;
          }
        }
      }
    }
  }
}

// NaN from the input reaches the outputs it feeds and the clamp keeps it (as F.relu does).
TEST(Winograd, ClampKeepsNan) {
  int skipped = 0;
  for (const Pair& pair : runnable_pairs(&skipped)) {
    SCOPED_TRACE(std::string(pair.xform->name) + " + " + pair.gemm->name);
    const Conv2dShape s = shape_of({1, 4, 8, 8, 4, 1, 1, 1, 1});
    const WinogradPlan plan = make_winograd_plan(s, *pair.gemm, *pair.xform);
    std::vector<float> x = testing::random_values(4 * 64, 3);
    x[2 * 64 + 5 * 8 + 6] = NAN;  // channel 2, row 5, column 6
    const std::vector<float> w = testing::random_values(4 * 4 * 9, 4);
    Activation relu;
    relu.min = 0.0f;
    const std::vector<float> got = run_winograd(plan, x, w, nullptr, nullptr, relu);
    // Output (5, 6) reads the NaN through its centre tap in every output channel.
    for (int64_t oc = 0; oc < 4; ++oc) EXPECT_TRUE(std::isnan(got[oc * 64 + 5 * 8 + 6])) << "oc " << oc;
  }
}

TEST(Winograd, DispatchTakesDense3x3WithEnoughTilesAndChannels) {
  Conv2dShape s = shape_of({1, 64, 56, 56, 64, 1, 1, 1, 1});
  EXPECT_TRUE(winograd_wins(s));
  Conv2dShape strided = s;
  strided.stride_h = 2;
  EXPECT_FALSE(winograd_wins(strided));
  Conv2dShape dilated = s;
  dilated.dilation_w = 2;
  EXPECT_FALSE(winograd_wins(dilated));
  Conv2dShape grouped = s;
  grouped.groups = 2;
  EXPECT_FALSE(winograd_wins(grouped));
  Conv2dShape five = s;
  five.kernel_h = five.kernel_w = 5;
  EXPECT_FALSE(winograd_wins(five));
  EXPECT_TRUE(winograd_wins(shape_of({1, 256, 14, 14, 256, 1, 1, 1, 1})));   // 16 tiles
  EXPECT_FALSE(winograd_wins(shape_of({1, 512, 7, 7, 512, 1, 1, 1, 1})));    // 4 tiles: GEMM wins
  EXPECT_TRUE(winograd_wins(shape_of({4, 512, 7, 7, 512, 1, 1, 1, 1})));     // batch 4: 16 tiles
  EXPECT_FALSE(winograd_wins(shape_of({1, 8, 56, 56, 64, 1, 1, 1, 1})));     // too few channels
}

// The op end to end on a ResNet-like 3x3 conv that dispatch sends to Winograd, with the
// whole epilogue, against the reference, at 1 and 2 threads (bit-identical).
// One chunk of 16 tiles, in both weight modes (bit-identical): OC 72 leaves a partial last
// A panel at MR 16, 28 and 14, and per call an odd panel count (5 of 16 rows) is split
// 3 + 2 at 2 threads.
TEST(Winograd, OpMatchesReferenceWithFusedEpilogue) {
  const Case k = {1, 64, 15, 13, 72, 1, 1, 1, 1};
  const Conv2dShape s = shape_of(k);
  ASSERT_TRUE(winograd_wins(s));
  const IsaLevel level = isa_level();
  const WinogradPlan plan = make_winograd_plan(
      s, f32_gemm_select(level, s.out_channels, 16, f32_winograd_select(level).lanes), f32_winograd_select(level));
  testing::ConvOpCase c = testing::conv_op_case(s, k.pb, k.pr, 0.0f, 1.5f);
  const float scale = unclamped_scale(s, c.x, c.w, c.bias.data(), c.residual.data());
  std::vector<float> packed, per_call;
  {
    ScopedWinogradWeights mode(WinogradWeights::kPacked);
    ASSERT_FALSE(winograd_per_call(plan));
    packed = c.op.run();
  }
  {
    ScopedWinogradWeights mode(WinogradWeights::kPerCall);
    ASSERT_TRUE(winograd_per_call(plan));
    per_call = c.op.run();
  }
  testing::expect_near_all(packed, c.expected, kRelTol * scale + 1e-6f);
  ASSERT_EQ(per_call.size(), packed.size());
  EXPECT_EQ(std::memcmp(per_call.data(), packed.data(), packed.size() * sizeof(float)), 0);
}

// Several tile chunks (72 tiles: 3 of 32 or 5 of 16, whichever GEMM tile dispatch picks):
// at 2 threads each thread runs whole chunks in its own workspace and the odd chunk left
// over is split phase by phase; the weights are packed over the pool's threads.
TEST(Winograd, OpWithChunksPerThreadAndLeftoverChunk) {
  const Case k = {1, 128, 30, 34, 128, 1, 1, 1, 1};
  const Conv2dShape s = shape_of(k);
  ASSERT_TRUE(winograd_wins(s));
  const IsaLevel level = isa_level();
  const WinogradPlan plan =
      make_winograd_plan(s, f32_gemm_select(level, s.out_channels, 72, f32_winograd_select(level).lanes),
                         f32_winograd_select(level));
  ASSERT_EQ(plan.tiles, 72);
  ASSERT_EQ(plan.chunks() % 2, 1) << "the case must leave one chunk over at 2 threads";
  ASSERT_GE(plan.chunks(), 3);
  ScopedWinogradWeights per_call(WinogradWeights::kPerCall);
  ASSERT_FALSE(winograd_per_call(plan)) << "several chunks: U packed once in either mode";
  testing::ConvOpCase c = testing::conv_op_case(s, k.pb, k.pr, 0.0f, 4.0f);
  const float scale = unclamped_scale(s, c.x, c.w, c.bias.data(), c.residual.data());
  testing::expect_near_all(c.op.run(), c.expected, kRelTol * scale + 1e-6f);
}

}  // namespace
}  // namespace deployrt
