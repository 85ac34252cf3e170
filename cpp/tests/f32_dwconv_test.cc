// Every depthwise microkernel of the variant list (kernels/f32-dwconv) against the reference
// f32_conv2d_ref with groups = C: output widths below, at and around the 8- and 16-lane
// vectors and the 4-vector blocks, strides 1, 2 and 3, padding (symmetric, asymmetric,
// wider than the kernel's reach), dilation, rectangular kernels, channel multipliers, and
// each part of the fused epilogue. Also the conv2d op end to end at 1 and 2 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/f32-dwconv/dwconv.h"
#include "kernels/reference/conv2d_ref.h"
#include "kernel_test_util.h"
#include "ops_test_util.h"

namespace deployrt {
namespace {

using testing::host_isa;

struct Case {
  int64_t c, mult, h, w, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw;
};

Conv2dShape shape_of(const Case& k, int64_t batch) {
  Conv2dShape s = testing::conv2d_io(batch, k.c, k.h, k.w, k.c * k.mult);
  testing::set_window(&s, k);
  s.groups = k.c;
  s.out_height = testing::window_out_size(k.h, k.kh, k.sh, k.pt, k.pb, k.dh);
  s.out_width = testing::window_out_size(k.w, k.kw, k.sw, k.pl, k.pr, k.dw);
  return s;
}

std::vector<Case> cases() {
  std::vector<Case> out;
  // 3x3 pad 1 (MobileNetV2) at stride 1 and 2 over widths around every vector boundary.
  for (int64_t w : {1, 2, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 66, 80, 97, 112, 130}) {
    out.push_back({2, 1, 3, w, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1});
    out.push_back({2, 1, 4, w, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1});
  }
  out.push_back({3, 1, 9, 70, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1});   // stride 3: the gather path
  out.push_back({3, 1, 8, 100, 3, 3, 1, 5, 0, 2, 0, 2, 1, 1});  // stride 5 along W only
  out.push_back({2, 1, 12, 40, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1});  // 5x5
  out.push_back({2, 1, 12, 41, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1});  // 5x5 stride 2
  out.push_back({2, 1, 11, 50, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1});  // 7x7 stride 2
  out.push_back({2, 1, 9, 37, 3, 5, 1, 1, 0, 2, 2, 1, 1, 1});   // rectangular, asymmetric pads
  out.push_back({2, 1, 10, 45, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2});  // dilation 2
  out.push_back({2, 1, 10, 45, 3, 3, 2, 2, 2, 3, 2, 3, 2, 3});  // dilation 3 along W, stride 2
  out.push_back({2, 1, 6, 20, 3, 3, 1, 1, 4, 5, 4, 5, 1, 1});   // padding wider than the reach
  out.push_back({2, 1, 5, 6, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1});    // no padding, tiny plane
  out.push_back({3, 2, 7, 35, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1});   // channel multiplier 2
  out.push_back({2, 3, 7, 34, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1});   // channel multiplier 3, stride 2
  out.push_back({2, 1, 7, 35, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1});   // 1x1 depthwise (a per-channel scale)
  out.push_back({2, 1, 1, 200, 1, 9, 1, 1, 0, 4, 0, 4, 1, 1});  // a 1-row plane, 1x9 kernel
  return out;
}

class F32DwConvTest : public testing::VariantTest<F32DwConvVariant, f32_dwconv_variants> {};

TEST_P(F32DwConvTest, MatchesReferenceOverTailsAndEpilogues) {
  const F32DwConvVariant& v = variant();
  uint32_t seed = 11;
  for (const Case& k : cases()) {
    const Conv2dShape s = shape_of(k, 2);
    SCOPED_TRACE(std::string(v.name) + " c " + std::to_string(k.c) + "x" + std::to_string(k.mult) + " in " +
                 std::to_string(k.h) + "x" + std::to_string(k.w) + " k " + std::to_string(k.kh) + "x" +
                 std::to_string(k.kw) + " s " + std::to_string(k.sh) + "," + std::to_string(k.sw) + " d " +
                 std::to_string(k.dh) + "," + std::to_string(k.dw) + " pads " + std::to_string(k.pt) + "," +
                 std::to_string(k.pl) + "," + std::to_string(k.pb) + "," + std::to_string(k.pr));
    const int64_t in_plane = s.in_height * s.in_width, out_plane = s.out_height * s.out_width;
    const int64_t taps = s.kernel_h * s.kernel_w;
    const std::vector<float> x = testing::random_values(s.batch * s.in_channels * in_plane, seed++);
    const std::vector<float> w = testing::random_values(s.out_channels * taps, seed++);
    const std::vector<float> bias = testing::random_values(s.out_channels, seed++);
    const std::vector<float> residual = testing::random_values(s.batch * s.out_channels * out_plane, seed++);
    for (int epilogue = 0; epilogue < 3; ++epilogue) {
      // 0: nothing; 1: bias + residual + ReLU6-like clamp; 2: bias and a clamp from below only.
      Activation act;
      if (epilogue == 1) {
        act.min = 0.0f;
        act.max = 0.75f;
      } else if (epilogue == 2) {
        act.min = -0.1f;
      }
      const float* b = epilogue > 0 ? bias.data() : nullptr;
      const float* r = epilogue == 1 ? residual.data() : nullptr;
      std::vector<float> expected(residual.size());
      f32_conv2d_ref(s, x.data(), w.data(), b, r, act, expected.data(), 0, s.batch * s.out_channels);
      const float sentinel = 777.0f;
      std::vector<float> got(residual.size() + 64, sentinel);  // the tail catches stores past the end
      const DwConvPlane p = dwconv_plane_of(s, act);
      ASSERT_TRUE(f32_dwconv_fits_int32(p));
      for (int64_t i = 0; i < s.batch * s.out_channels; ++i) {
        const int64_t n = i / s.out_channels, oc = i % s.out_channels;
        v.fn(p, x.data() + (n * s.in_channels + oc / k.mult) * in_plane, w.data() + oc * taps,
             b != nullptr ? b[oc] : 0.0f, r != nullptr ? r + i * out_plane : nullptr, got.data() + i * out_plane);
      }
      for (size_t i = 0; i < expected.size(); ++i) {
        ASSERT_NEAR(got[i], expected[i], 1e-5f * (1.0f + std::fabs(expected[i])))
            << "epilogue " << epilogue << " at " << i << " (plane " << i / out_plane << ", row "
            << (i % out_plane) / s.out_width << ", col " << i % s.out_width << ")";
      }
      for (size_t i = expected.size(); i < got.size(); ++i) ASSERT_EQ(got[i], sentinel) << "store past the end";
    }
  }
}

TEST_P(F32DwConvTest, ClampKeepsNaN) {
  const F32DwConvVariant& v = variant();
  const Case k = {1, 1, 3, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1};
  const Conv2dShape s = shape_of(k, 1);
  std::vector<float> x(static_cast<size_t>(3 * 20), 1.0f);
  x[25] = NAN;  // row 1, col 5: poisons outputs (0..2, 4..6)
  const std::vector<float> w(9, 1.0f);
  Activation act;
  act.min = 0.0f;
  act.max = 6.0f;
  std::vector<float> y(static_cast<size_t>(s.out_height * s.out_width));
  v.fn(dwconv_plane_of(s, act), x.data(), w.data(), -100.0f, nullptr, y.data());
  for (int64_t oh = 0; oh < 3; ++oh) {
    for (int64_t ow = 0; ow < 20; ++ow) {
      const float got = y[oh * 20 + ow];
      if (ow >= 4 && ow <= 6) {
        EXPECT_TRUE(std::isnan(got)) << v.name << " at " << oh << "," << ow;
      } else {
        EXPECT_EQ(got, 0.0f) << v.name << " at " << oh << "," << ow;  // at most 9 - 100, clamped
      }
    }
  }
}

// The 3x3 dilation-1 kernels specialized for strides 1 and 2 (blocks of up to 4 output rows
// x 1-2 vectors, masked loads at the row ends; blocks of up to 8 rows for planes at most 16
// outputs wide): every width 1..40 (each tail of the 8- and 16-lane vectors and of the vector
// pairs), 56 and 112, heights 1..5 (each row-block remainder) and, for the narrow widths,
// 6..9, 14 and 17 (each tall-block size and split), no padding, symmetric and asymmetric
// padding, 3 planes, and every epilogue:
// residual off/on x clamp none/min/max/both. NaN inputs (some at the row ends, read by the
// masked lanes) must come out as NaN exactly where the reference has NaN.
TEST_P(F32DwConvTest, Specialized3x3MatchesReference) {
  const F32DwConvVariant& v = variant();
  uint32_t seed = 101;
  std::vector<int64_t> widths;
  for (int64_t w = 1; w <= 40; ++w) widths.push_back(w);
  widths.push_back(56);
  widths.push_back(112);
  struct Pads {
    int64_t t, l, b, r;
  };
  for (int64_t stride : {1, 2}) {
    for (const Pads& pad : {Pads{0, 0, 0, 0}, Pads{1, 1, 1, 1}, Pads{1, 0, 0, 1}, Pads{0, 1, 1, 0}}) {
      for (int64_t h : {1, 2, 3, 4, 5, 6, 7, 8, 9, 14, 17}) {
        for (int64_t w : widths) {
          if (h > 5 && w > 34) continue;
          const Case k = {3, 1, h, w, 3, 3, stride, stride, pad.t, pad.l, pad.b, pad.r, 1, 1};
          const Conv2dShape s = shape_of(k, 1);
          if (s.out_height < 1 || s.out_width < 1) continue;
          SCOPED_TRACE(std::string(v.name) + " in " + std::to_string(h) + "x" + std::to_string(w) + " stride " +
                       std::to_string(stride) + " pads " + std::to_string(pad.t) + "," + std::to_string(pad.l) + "," +
                       std::to_string(pad.b) + "," + std::to_string(pad.r));
          const int64_t in_plane = h * w, out_plane = s.out_height * s.out_width;
          std::vector<float> x = testing::random_values(s.in_channels * in_plane, seed++);
          if (w % 3 == 0) {
            x[static_cast<size_t>(w - 1)] = NAN;                 // plane 0: the last column of row 0
            x[static_cast<size_t>(in_plane + (h / 2) * w)] = NAN;  // plane 1: the first column of a middle row
          }
          const std::vector<float> wt = testing::random_values(s.out_channels * 9, seed++);
          const std::vector<float> bias = testing::random_values(s.out_channels, seed++);
          const std::vector<float> residual = testing::random_values(s.out_channels * out_plane, seed++);
          for (int epilogue = 0; epilogue < 8; ++epilogue) {
            // Bit 0: residual; bit 1: clamp from below; bit 2: clamp from above.
            Activation act;
            if (epilogue & 2) act.min = -0.2f;
            if (epilogue & 4) act.max = 0.3f;
            const float* r = (epilogue & 1) != 0 ? residual.data() : nullptr;
            std::vector<float> expected(residual.size());
            f32_conv2d_ref(s, x.data(), wt.data(), bias.data(), r, act, expected.data(), 0, s.out_channels);
            const float sentinel = 777.0f;
            std::vector<float> got(residual.size() + 32, sentinel);
            const DwConvPlane p = dwconv_plane_of(s, act);
            for (int64_t c = 0; c < s.out_channels; ++c) {
              v.fn(p, x.data() + c * in_plane, wt.data() + c * 9, bias[c], r != nullptr ? r + c * out_plane : nullptr,
                   got.data() + c * out_plane);
            }
            for (size_t i = 0; i < expected.size(); ++i) {
              if (std::isnan(expected[i])) {
                ASSERT_TRUE(std::isnan(got[i])) << "epilogue " << epilogue << " at " << i;
              } else {
                ASSERT_NEAR(got[i], expected[i], 1e-5f * (1.0f + std::fabs(expected[i])))
                    << "epilogue " << epilogue << " at " << i << " (plane " << i / out_plane << ", row "
                    << (i % out_plane) / s.out_width << ", col " << i % s.out_width << ")";
              }
            }
            for (size_t i = expected.size(); i < got.size(); ++i) ASSERT_EQ(got[i], sentinel) << "store past the end";
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, F32DwConvTest, ::testing::Range(0, testing::variant_count(f32_dwconv_variants)),
                         testing::VariantName<F32DwConvVariant>{f32_dwconv_variants});

TEST(F32DwConvSelect, PicksHighestAvailableIsa) {
  EXPECT_STREQ(f32_dwconv_select(IsaLevel::kScalar).name, "scalar");
#if defined(__x86_64__)
  EXPECT_STREQ(f32_dwconv_select(IsaLevel::kAvx2).name, "avx2");
  EXPECT_STREQ(f32_dwconv_select(IsaLevel::kAvx512).name, "avx512");
#endif
}

TEST(F32DwConvInterior, ColumnsWhereEveryTapIsInside) {
  DwConvPlane p;
  p.in_height = 4;
  p.in_width = 10;
  p.out_height = 4;
  p.out_width = 10;
  p.kernel_h = p.kernel_w = 3;
  p.pad_top = p.pad_left = 1;
  int64_t lo = 0, hi = 0;
  f32_dwconv_interior_columns(p, 0, &lo, &hi);
  EXPECT_EQ(lo, 1);  // column 0 reads iw = -1
  EXPECT_EQ(hi, 9);  // column 9 reads iw = 10
  f32_dwconv_interior_columns(p, 1, &lo, &hi);
  EXPECT_EQ(hi, 8);
  p.in_width = 2;  // narrower than the kernel's reach: no interior at all
  p.out_width = 2;
  f32_dwconv_interior_columns(p, 0, &lo, &hi);
  EXPECT_GE(lo, hi);
}

// The conv2d op picks the depthwise path for groups == C (constant or runtime weights) and
// must agree with the reference at the host's ISA, with 1 and 2 threads bit-identical.
TEST(F32DwConvOp, Conv2dDepthwiseMatchesReference) {
  for (bool constant_weights : {true, false}) {
    const Case k = {24, 1, 17, 19, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1};
    testing::ConvOpCase c = testing::conv_op_case(shape_of(k, 2), k.pb, k.pr, 0.0f, 6.0f, constant_weights);
    testing::expect_near_all(c.op.run(), c.expected, 1e-5f);
  }
}

}  // namespace
}  // namespace deployrt
