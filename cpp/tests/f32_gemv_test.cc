// Every GEMV microkernel of the variant list (kernels/f32-gemv) against a double-precision
// product over K from 1 up (every k % 4 remainder), each row count up to MR and column
// tails, with each epilogue part; weight packing; and the linear op end to end against
// f32_linear_ref over row and column tails, at 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/f32-gemv/gemv.h"
#include "kernels/reference/linear_ref.h"
#include "kernel_test_util.h"
#include "ops_test_util.h"

namespace deployrt {
namespace {

using testing::host_isa;

class F32GemvTest : public testing::VariantTest<F32GemvVariant, f32_gemv_variants> {};

void check_block(const F32GemvVariant& v, int64_t k, int64_t mr, int64_t nr, bool bias_on, bool residual_on, float lo,
                 float hi, uint32_t seed) {
  SCOPED_TRACE(std::string(v.name) + " k=" + std::to_string(k) + " mr=" + std::to_string(mr) +
               " nr=" + std::to_string(nr) + (bias_on ? " bias" : "") + (residual_on ? " residual" : ""));
  const int64_t ldx = k + 5, ldy = v.nr + 3;  // strides wider than the block
  const std::vector<float> x = testing::random_values(v.mr * ldx, seed);
  const std::vector<float> w = testing::random_values(nr * k, seed + 1);  // [nr, k] row-major
  std::vector<float> packed(static_cast<size_t>(f32_gemv_packed_floats(nr, k, v.nr)));
  f32_gemv_pack_weights(w.data(), nr, k, v.nr, packed.data());
  const std::vector<float> bias = testing::random_values(v.nr, seed + 2);
  const std::vector<float> residual = testing::random_values(v.mr * ldy, seed + 3);
  const float sentinel = 4242.0f;
  std::vector<float> y(static_cast<size_t>(v.mr * ldy), sentinel);
  GemvEpilogue ep;
  ep.bias = bias_on ? bias.data() : nullptr;
  ep.residual = residual_on ? residual.data() : nullptr;
  ep.min = lo;
  ep.max = hi;
  v.fn(k, x.data(), ldx, packed.data(), y.data(), ldy, mr, nr, ep);
  for (int64_t i = 0; i < v.mr; ++i) {
    for (int64_t j = 0; j < ldy; ++j) {
      const float got = y[i * ldy + j];
      if (i >= mr || j >= nr) {
        ASSERT_EQ(got, sentinel) << "store outside the block at " << i << "," << j;
        continue;
      }
      double ref = bias_on ? bias[j] : 0.0;
      for (int64_t p = 0; p < k; ++p) ref += double(x[i * ldx + p]) * w[j * k + p];
      if (residual_on) ref += residual[i * ldy + j];
      const double clamped = ref < lo ? lo : (ref > hi ? hi : ref);
      ASSERT_NEAR(got, clamped, 1e-5 * (1.0 + std::sqrt(double(k)))) << "at " << i << "," << j;
    }
  }
}

TEST_P(F32GemvTest, AllTailsAndDepths) {
  const F32GemvVariant& v = variant();
  uint32_t seed = 300;
  for (int64_t k : {1, 2, 3, 4, 5, 7, 8, 64, 257}) {
    for (int64_t mr = 1; mr <= v.mr; ++mr) {
      for (int64_t nr : {int64_t{1}, int64_t{v.nr / 2 - 1}, int64_t{v.nr / 2 + 1}, int64_t{v.nr - 1}, int64_t{v.nr}}) {
        if (nr < 1) continue;
        check_block(v, k, mr, nr, false, false, -INFINITY, INFINITY, seed++);
        check_block(v, k, mr, nr, true, true, -INFINITY, INFINITY, seed++);
        check_block(v, k, mr, nr, true, false, 0.0f, 0.25f, seed++);
      }
    }
  }
}

TEST_P(F32GemvTest, ClampKeepsNaN) {
  const F32GemvVariant& v = variant();
  const int64_t k = 6;
  std::vector<float> x(static_cast<size_t>(v.mr * k), 1.0f);
  std::vector<float> w(static_cast<size_t>(v.nr * k), 1.0f);
  w[1 * k + 4] = NAN;  // column 1 sums a NaN
  std::vector<float> packed(static_cast<size_t>(f32_gemv_packed_floats(v.nr, k, v.nr)));
  f32_gemv_pack_weights(w.data(), v.nr, k, v.nr, packed.data());
  std::vector<float> residual(static_cast<size_t>(v.mr * v.nr), -10.0f);
  std::vector<float> y(residual.size());
  GemvEpilogue ep;
  ep.residual = residual.data();
  ep.min = 0.0f;
  ep.max = 6.0f;
  v.fn(k, x.data(), k, packed.data(), y.data(), v.nr, v.mr, v.nr, ep);
  for (int64_t i = 0; i < v.mr; ++i) {
    EXPECT_EQ(y[i * v.nr], 0.0f) << v.name;  // 6 - 10 clamped to 0
    EXPECT_TRUE(std::isnan(y[i * v.nr + 1])) << v.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, F32GemvTest, ::testing::Range(0, testing::variant_count(f32_gemv_variants)),
                         testing::VariantName<F32GemvVariant>{f32_gemv_variants});

TEST(F32GemvPack, PanelsAreColumnMajorAndZeroPadded) {
  // w [3, 2] = {{1, 2}, {3, 4}, {5, 6}} in panels of 2: [k][2] = {1, 3, 2, 4} then {5, 0, 6, 0}.
  const std::vector<float> w = {1, 2, 3, 4, 5, 6};
  std::vector<float> packed(static_cast<size_t>(f32_gemv_packed_floats(3, 2, 2)), -1.0f);
  ASSERT_EQ(packed.size(), 8u);
  f32_gemv_pack_weights(w.data(), 3, 2, 2, packed.data());
  EXPECT_EQ(packed, (std::vector<float>{1, 3, 2, 4, 5, 0, 6, 0}));
}

TEST(F32GemvSelect, PicksHighestAvailableIsa) {
  EXPECT_STREQ(f32_gemv_select(IsaLevel::kScalar).name, "scalar_1x8");
#if defined(__x86_64__)
  EXPECT_STREQ(f32_gemv_select(IsaLevel::kAvx2).name, "avx2_1x16");
  EXPECT_STREQ(f32_gemv_select(IsaLevel::kAvx512).name, "avx512_2x32");
#endif
}

testing::OpTester linear_op(int64_t rows, int64_t in, int64_t out, uint32_t seed, bool with_residual) {
  testing::OpTester t(OpKind::kLinear);
  t.random_input({rows, in}, seed).random_input({out, in}, seed + 1, true).random_input({out}, seed + 2, true);
  if (with_residual) t.random_input({rows, out}, seed + 3);
  return t;
}

// The op (constant weights: the packed GEMV path) against the reference.
TEST(F32GemvOp, LinearMatchesReference) {
  uint32_t seed = 50;
  for (int64_t rows : {1, 2, 3, 5}) {
    for (int64_t in : {1, 3, 33, 260}) {
      for (int64_t out : {1, 7, 31, 33, 100}) {
        SCOPED_TRACE("rows " + std::to_string(rows) + " in " + std::to_string(in) + " out " + std::to_string(out));
        const std::vector<float> x = testing::random_values(rows * in, seed);
        const std::vector<float> w = testing::random_values(out * in, seed + 1);
        const std::vector<float> b = testing::random_values(out, seed + 2);
        const std::vector<float> r = testing::random_values(rows * out, seed + 3);
        testing::OpTester t = linear_op(rows, in, out, seed, true);
        t.attr_float("act_min", -0.5).attr_float("act_max", 2.0);
        Activation act;
        act.min = -0.5f;
        act.max = 2.0f;
        std::vector<float> expected(static_cast<size_t>(rows * out));
        f32_linear_ref(x.data(), w.data(), b.data(), r.data(), act, expected.data(), in, out, 0, rows * out);
        testing::expect_near_all(t.run(), expected, 2e-5f);
        seed += 4;
      }
    }
  }
}

// A row's output does not depend on the other rows of the batch (the row blocks of MR
// rows and the lone last row sum in the same order): bit-identical to running it alone.
TEST(F32GemvOp, RowResultIndependentOfBatch) {
  const int64_t rows = 5, in = 67, out = 45;
  testing::OpTester batch = linear_op(rows, in, out, 9, false);
  const std::vector<float> all = batch.run();
  const std::vector<float> x = testing::random_values(rows * in, 9);
  for (int64_t r = 0; r < rows; ++r) {
    testing::OpTester one(OpKind::kLinear);
    one.input({1, in}, std::vector<float>(x.begin() + r * in, x.begin() + (r + 1) * in));
    one.random_input({out, in}, 10, true).random_input({out}, 11, true);
    const std::vector<float> alone = one.run();
    ASSERT_EQ(alone.size(), static_cast<size_t>(out));
    EXPECT_EQ(std::memcmp(alone.data(), all.data() + r * out, out * sizeof(float)), 0) << "row " << r;
  }
}

}  // namespace
}  // namespace deployrt
