// Every max-pool microkernel of the variant list (kernels/f32-pool) against the reference
// f32_max_pool2d_ref, bit for bit: output widths below, at and around the 8- and 16-lane
// vectors and the 4-vector blocks, strides 1, 2 and 3 (the contiguous, deinterleaved and
// gather paths), symmetric and asymmetric padding, dilation, rectangular kernels, ceil_mode
// windows that hang past the input, NaN propagation and signed zeros. Also the max_pool2d
// op end to end at 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernels/f32-pool/pool.h"
#include "kernels/reference/pool2d_ref.h"
#include "kernel_test_util.h"
#include "ops_test_util.h"

namespace deployrt {
namespace {

using testing::host_isa;

struct Case {
  int64_t h, w, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw;
  bool ceil_mode;
};

Pool2dShape shape_of(const Case& k, int64_t planes) {
  Pool2dShape s;
  s.planes = planes;
  s.in_height = k.h;
  s.in_width = k.w;
  testing::set_window(&s, k);
  s.pad_bottom = k.pb;
  s.pad_right = k.pr;
  s.out_height = testing::window_out_size(k.h, k.kh, k.sh, k.pt, k.pb, k.dh, k.ceil_mode);
  s.out_width = testing::window_out_size(k.w, k.kw, k.sw, k.pl, k.pr, k.dw, k.ceil_mode);
  return s;
}

std::vector<Case> cases() {
  std::vector<Case> out;
  // ResNet's 3x3 stride 2 pad 1 and a 2x2 stride 2, and 3x3 stride 1 pad 1, over output
  // widths around every vector and block boundary (8, 16, 32, 64 columns and beyond).
  for (int64_t w : {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 66, 80, 97, 112, 130}) {
    out.push_back({4, w, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false});
    out.push_back({4, w, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true});
    out.push_back({3, w, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false});
    if (w >= 2) out.push_back({4, w, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, true});
  }
  out.push_back({9, 70, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, false});    // stride 3: the gather path
  out.push_back({9, 71, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, true});     // stride 3, ceil_mode
  out.push_back({8, 100, 3, 3, 1, 5, 0, 1, 0, 1, 1, 1, false});   // stride 5 along W only
  out.push_back({12, 40, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, false});   // 5x5
  out.push_back({12, 41, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, true});    // 5x5 stride 2 ceil
  out.push_back({11, 50, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, false});   // 7x7 stride 2
  out.push_back({9, 37, 3, 5, 1, 1, 0, 2, 1, 1, 1, 1, false});    // rectangular, asymmetric pads
  out.push_back({10, 45, 3, 3, 1, 1, 1, 1, 1, 1, 2, 2, false});   // dilation 2
  out.push_back({10, 45, 3, 3, 2, 2, 1, 1, 1, 1, 2, 3, true});    // dilation 3 along W, stride 2
  out.push_back({10, 46, 3, 3, 2, 3, 1, 1, 1, 1, 2, 2, true});    // dilation 2, stride 3
  out.push_back({6, 20, 2, 2, 1, 1, 3, 4, 3, 4, 1, 1, false});    // pads wider than the window: -inf cells
  out.push_back({5, 6, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, false});     // no padding, tiny plane
  out.push_back({7, 35, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, false});    // 1x1 (a copy)
  out.push_back({7, 35, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, false});    // 1x1 stride 2 (a subsample)
  out.push_back({1, 200, 1, 9, 1, 1, 0, 4, 0, 4, 1, 1, false});   // a 1-row plane, 1x9 window
  out.push_back({112, 112, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false}); // ResNet's stem max-pool
  return out;
}

std::string describe(const Case& k) {
  return "in " + std::to_string(k.h) + "x" + std::to_string(k.w) + " k " + std::to_string(k.kh) + "x" +
         std::to_string(k.kw) + " s " + std::to_string(k.sh) + "," + std::to_string(k.sw) + " d " +
         std::to_string(k.dh) + "," + std::to_string(k.dw) + " pads " + std::to_string(k.pt) + "," +
         std::to_string(k.pl) + "," + std::to_string(k.pb) + "," + std::to_string(k.pr) +
         (k.ceil_mode ? " ceil" : "");
}

// Same bits, or both NaN (the reference keeps the input's NaN, the SIMD kernels a quiet one).
bool same_value(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof(float)) == 0;
}

class F32MaxPoolTest : public testing::VariantTest<F32MaxPoolVariant, f32_max_pool2d_variants> {
 protected:
  // Runs the variant plane by plane and checks every output against the reference, and
  // that nothing is stored past the end.
  void check(const Case& k, const std::vector<float>& x, int64_t planes) {
    const F32MaxPoolVariant& v = variant();
    const Pool2dShape s = shape_of(k, planes);
    ASSERT_GE(s.out_height, 1);
    ASSERT_GE(s.out_width, 1);
    ASSERT_TRUE(f32_max_pool2d_fits_int32(s));
    const int64_t in_plane = s.in_height * s.in_width, out_plane = s.out_height * s.out_width;
    ASSERT_EQ(static_cast<int64_t>(x.size()), planes * in_plane);
    std::vector<float> expected(static_cast<size_t>(planes * out_plane));
    f32_max_pool2d_ref(s, x.data(), expected.data(), 0, planes);
    const float sentinel = 777.0f;
    std::vector<float> got(expected.size() + 64, sentinel);
    for (int64_t i = 0; i < planes; ++i) v.fn(s, x.data() + i * in_plane, got.data() + i * out_plane);
    for (size_t i = 0; i < expected.size(); ++i) {
      ASSERT_TRUE(same_value(got[i], expected[i]))
          << v.name << " " << describe(k) << ": got " << got[i] << ", expected " << expected[i] << " at " << i
          << " (plane " << i / out_plane << ", row " << (i % out_plane) / s.out_width << ", col "
          << i % s.out_width << ")";
    }
    for (size_t i = expected.size(); i < got.size(); ++i) ASSERT_EQ(got[i], sentinel) << "store past the end";
  }
};

TEST_P(F32MaxPoolTest, MatchesReferenceOverTails) {
  uint32_t seed = 5;
  for (const Case& k : cases()) {
    const int64_t planes = 2;
    check(k, testing::random_values(planes * k.h * k.w, seed++), planes);
  }
}

TEST_P(F32MaxPoolTest, NaNWinsItsWindows) {
  uint32_t seed = 99;
  for (const Case& k : {Case{5, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false}, Case{6, 70, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true},
                        Case{7, 50, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, false}}) {
    std::vector<float> x = testing::random_values(k.h * k.w, seed++);
    // NaNs at the left edge, inside, and at the last column; and +inf beside one of them.
    x[static_cast<size_t>(1 * k.w + 0)] = NAN;
    x[static_cast<size_t>(2 * k.w + 17)] = NAN;
    x[static_cast<size_t>(2 * k.w + 18)] = std::numeric_limits<float>::infinity();
    x[static_cast<size_t>(k.h * k.w - 1)] = -NAN;
    check(k, x, 1);
  }
}

TEST_P(F32MaxPoolTest, SignedZerosAndInfinitiesKeepTheFirstMaximum) {
  // Windows of equal zeros keep the first tap's sign (max(v, acc) keeps acc on ties), as
  // the reference does; -inf inputs never lose to padding.
  uint32_t seed = 7;
  for (const Case& k : {Case{6, 37, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false}, Case{6, 70, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true}}) {
    std::vector<float> x = testing::random_values(k.h * k.w, seed++);
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] = x[i] < -0.5f ? -std::numeric_limits<float>::infinity() : (x[i] < 0.0f ? -0.0f : 0.0f);
    }
    check(k, x, 1);
  }
}

// The SIMD variants' row path (kernels/f32-pool/stride2_rows.h: windows 2 or 3 columns
// wide at column stride 2): every width 1..40 (both vector tails, the masked row ends, the
// fully masked windows of narrow rows) by heights 1..9, padding 0 and 1, floor and ceil.
std::vector<Case> stride2_row_cases() {
  std::vector<Case> out;
  for (int64_t kw : {3, 2}) {
    for (int64_t pad : {0, 1}) {
      if (2 * pad > kw) continue;  // PyTorch's limit: padding at most half the window
      for (int64_t h = 1; h <= 9; ++h) {
        for (int64_t w = 1; w <= 40; ++w) {
          if (h + 2 * pad < kw || w + 2 * pad < kw) continue;  // no window at all
          for (bool ceil_mode : {false, true}) out.push_back({h, w, kw, kw, 2, 2, pad, pad, pad, pad, 1, 1, ceil_mode});
        }
      }
    }
  }
  return out;
}

// Row geometries the row path also takes: other row strides, window heights and dilations
// (ring spans 1..8), asymmetric pads, a 3x2 window, and rows wider than one 128-column pass.
std::vector<Case> stride2_row_geometries() {
  return {
      {9, 33, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1, false},    // row stride 1: each row serves 3 outputs
      {13, 35, 3, 3, 3, 2, 1, 1, 1, 1, 1, 1, true},    // row stride 3: rows skipped
      {10, 29, 1, 3, 2, 2, 0, 1, 0, 1, 1, 1, false},   // one-row window
      {15, 31, 5, 3, 2, 2, 2, 1, 2, 1, 1, 1, false},   // 5 rows
      {17, 27, 3, 3, 2, 2, 1, 1, 1, 1, 3, 1, true},    // row dilation 3: span 7
      {17, 27, 4, 3, 1, 2, 0, 1, 2, 1, 2, 1, false},   // span 7, asymmetric row pads
      {19, 27, 8, 2, 1, 2, 3, 1, 4, 0, 1, 1, false},   // span 8: the whole ring
      {19, 27, 3, 3, 2, 2, 1, 1, 1, 1, 4, 1, false},   // span 9: past the ring (generic path)
      {9, 30, 3, 2, 2, 2, 1, 1, 1, 0, 1, 1, true},     // 3x2, right padding only in ceil
      {7, 37, 3, 3, 2, 2, 0, 1, 1, 0, 1, 1, false},    // asymmetric pads
      {5, 300, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false},   // 150 columns: two passes
      {5, 531, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, true},    // 266 columns: three passes, tails
      {4, 257, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true},    // exactly 129 columns
  };
}

TEST_P(F32MaxPoolTest, Stride2RowPathMatchesReference) {
  uint32_t seed = 1234;
  for (const Case& k : stride2_row_cases()) check(k, testing::random_values(2 * k.h * k.w, seed++), 2);
  for (const Case& k : stride2_row_geometries()) check(k, testing::random_values(3 * k.h * k.w, seed++), 3);
}

TEST_P(F32MaxPoolTest, Stride2RowPathNaNAndInfinities) {
  // Scattered NaNs (either sign), +inf and -inf, and signed zeros among the values, over
  // the row path's tails: a NaN row takes the NaN-tracking passes, its neighbours not.
  uint32_t seed = 4321;
  std::vector<Case> shapes = stride2_row_geometries();
  for (const Case& k : stride2_row_cases()) {
    if (k.h % 4 == 1 || k.w % 7 == 3) shapes.push_back(k);
  }
  for (const Case& k : shapes) {
    std::vector<float> x = testing::random_values(2 * k.h * k.w, seed++);
    for (float& v : x) {
      if (v > 0.93f) {
        v = NAN;
      } else if (v < -0.93f) {
        v = -NAN;
      } else if (v > 0.8f) {
        v = std::numeric_limits<float>::infinity();
      } else if (v < -0.3f) {
        v = -std::numeric_limits<float>::infinity();
      } else {
        v = v < 0.0f ? -0.0f : 0.0f;
      }
    }
    check(k, x, 2);
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, F32MaxPoolTest, ::testing::Range(0, testing::variant_count(f32_max_pool2d_variants)),
                         testing::VariantName<F32MaxPoolVariant>{f32_max_pool2d_variants});

TEST(F32MaxPoolSelect, PicksHighestAvailableIsa) {
  EXPECT_STREQ(f32_max_pool2d_select(IsaLevel::kScalar).name, "scalar");
#if defined(__x86_64__)
  EXPECT_STREQ(f32_max_pool2d_select(IsaLevel::kAvx2).name, "avx2");
  EXPECT_STREQ(f32_max_pool2d_select(IsaLevel::kAvx512).name, "avx512");
#endif
}

TEST(F32MaxPoolInterior, ColumnsWhereEveryTapIsInside) {
  Pool2dShape s;
  s.in_height = s.out_height = 4;
  s.in_width = s.out_width = 10;
  s.kernel_h = s.kernel_w = 3;
  s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = 1;
  int64_t lo = 0, hi = 0;
  f32_max_pool2d_interior_columns(s, 0, &lo, &hi);
  EXPECT_EQ(lo, 1);  // column 0 reads iw = -1
  EXPECT_EQ(hi, 9);  // column 9 reads iw = 10
  f32_max_pool2d_interior_columns(s, 1, &lo, &hi);
  EXPECT_EQ(hi, 8);
  s.in_width = s.out_width = 2;  // narrower than the window: no interior at all
  f32_max_pool2d_interior_columns(s, 0, &lo, &hi);
  EXPECT_GE(lo, hi);
}

TEST(F32MaxPoolFits, RejectsOffsetsBeyondInt32) {
  Pool2dShape s;
  s.in_height = s.out_height = 1;
  s.in_width = s.out_width = 1000;
  s.kernel_h = s.kernel_w = 3;
  EXPECT_TRUE(f32_max_pool2d_fits_int32(s));
  s.in_width = int64_t{1} << 31;
  s.out_width = (int64_t{1} << 31) - 2;
  EXPECT_FALSE(f32_max_pool2d_fits_int32(s));
}

// The op end to end at the host's ISA: 1 and 2 threads give the reference's bits.
TEST(F32MaxPoolOp, MatchesReferenceAtOneAndTwoThreads) {
  const Case k = {21, 37, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true};
  const int64_t n = 2, c = 5;
  const std::vector<float> x = testing::random_values(n * c * k.h * k.w, 3);
  const Pool2dShape s = shape_of(k, n * c);
  std::vector<float> expected(static_cast<size_t>(n * c * s.out_height * s.out_width));
  f32_max_pool2d_ref(s, x.data(), expected.data(), 0, n * c);
  for (int threads : {1, 2}) {
    testing::OpTester t(OpKind::kMaxPool2d);
    t.attr_ints("kernel", {3, 3}).attr_ints("stride", {2, 2}).attr_ints("pads", {1, 1, 1, 1});
    t.attr_ints("dilation", {1, 1}).attr_int("ceil_mode", 1);
    t.input({n, c, k.h, k.w}, x);
    const std::vector<float> got = t.run_with(threads);
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_TRUE(same_value(got[i], expected[i])) << threads << " threads, " << i;
  }
}

}  // namespace
}  // namespace deployrt
