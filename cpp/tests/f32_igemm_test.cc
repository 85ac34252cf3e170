// Every indirect GEMM microkernel of the variant list against a double-precision product
// over B rows scattered through a buffer by an offset table: every row/column tail, K from
// 1 up, each epilogue part, NaN through the clamp, and stores confined to the tile.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/f32-igemm/igemm.h"
#include "kernel_test_util.h"
#include "ops_test_util.h"

namespace deployrt {
namespace {

using testing::host_isa;

class F32IgemmTest : public testing::VariantTest<F32IgemmVariant, f32_igemm_variants> {};

// k B rows of NR floats at shuffled, sometimes overlapping places of one buffer (as a
// conv's taps read overlapping runs), the buffer ending NR floats past the last row's start.
struct ScatteredB {
  std::vector<float> buffer;
  std::vector<int64_t> offsets;
};

ScatteredB scattered_b(int64_t k, int nr_max, uint32_t seed) {
  ScatteredB b;
  std::mt19937 gen(seed);
  const int64_t slots = k + 3;
  b.offsets.resize(static_cast<size_t>(k));
  for (int64_t p = 0; p < k; ++p) {
    // Slot s starts at s * nr_max - (s % 3): runs overlap their neighbours by up to 2 floats.
    const int64_t s = static_cast<int64_t>(gen() % static_cast<uint32_t>(slots));
    b.offsets[p] = s * nr_max + 2 - s % 3;
  }
  b.buffer = testing::random_values(slots * nr_max + 2, seed + 1);
  return b;
}

void check_tile(const F32IgemmVariant& v, int64_t k, int64_t mr, int64_t nr, bool bias_on, bool residual_on,
                float lo, float hi, uint32_t seed) {
  SCOPED_TRACE(std::string(v.name) + " k=" + std::to_string(k) + " mr=" + std::to_string(mr) +
               " nr=" + std::to_string(nr) + (bias_on ? " bias" : "") + (residual_on ? " residual" : ""));
  const int64_t ldc = v.nr + 3;  // C rows wider than the tile: stores must stay in bounds
  const std::vector<float> w = testing::random_values(v.mr * k, seed);  // row-major [mr rows, k]
  std::vector<float> a(static_cast<size_t>(k * v.mr));
  f32_gemm_pack_a(w.data(), mr, k, k, 0, v.mr, a.data());
  const ScatteredB b = scattered_b(k, v.nr, seed + 1);
  const std::vector<float> bias = testing::random_values(v.mr, seed + 2);
  const std::vector<float> residual = testing::random_values(v.mr * ldc, seed + 3);
  const float sentinel = 12345.0f;
  std::vector<float> c(static_cast<size_t>(v.mr * ldc), sentinel);
  GemmEpilogue ep;
  ep.bias = bias_on ? bias.data() : nullptr;
  ep.residual = residual_on ? residual.data() : nullptr;
  ep.min = lo;
  ep.max = hi;
  v.fn(k, a.data(), b.buffer.data(), b.offsets.data(), c.data(), ldc, mr, nr, ep);
  for (int64_t i = 0; i < v.mr; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const float got = c[i * ldc + j];
      if (i >= mr || j >= nr) {
        ASSERT_EQ(got, sentinel) << "store outside the tile at " << i << "," << j;
        continue;
      }
      double ref = bias_on ? bias[i] : 0.0;
      for (int64_t p = 0; p < k; ++p) ref += double(w[i * k + p]) * b.buffer[b.offsets[p] + j];
      if (residual_on) ref += residual[i * ldc + j];
      const double clamped = ref < lo ? lo : (ref > hi ? hi : ref);
      ASSERT_NEAR(got, clamped, 1e-5 * (1.0 + std::sqrt(double(k)))) << "at " << i << "," << j;
    }
  }
}

TEST_P(F32IgemmTest, AllTailsAndDepths) {
  const F32IgemmVariant& v = variant();
  const float inf = INFINITY;
  uint32_t seed = 100;
  for (int64_t k : {1, 2, 7, 27, 147, 300}) {
    for (int64_t mr : {int64_t{1}, int64_t{v.mr - 1}, int64_t{v.mr}}) {
      for (int64_t nr : {int64_t{1}, int64_t{v.nr / 2 + 1}, int64_t{v.nr - 1}, int64_t{v.nr}}) {
        if (mr < 1 || nr < 1) continue;
        check_tile(v, k, mr, nr, false, false, -inf, inf, seed++);
        check_tile(v, k, mr, nr, true, true, -inf, inf, seed++);
        check_tile(v, k, mr, nr, true, false, 0.0f, 0.25f, seed++);
      }
    }
  }
}

// Every variant agrees with the scalar reference variant (to rounding: FMA contraction
// differs) on the same scattered rows, the scalar one covering the tile in its own tiles.
TEST_P(F32IgemmTest, AgreesWithScalarVariant) {
  const F32IgemmVariant& v = variant();
  int count = 0;
  const F32IgemmVariant& ref = f32_igemm_variants(&count)[0];
  ASSERT_STREQ(ref.name, "scalar_4x8");
  const int64_t k = 45;
  const ScatteredB b = scattered_b(k, std::max(v.nr, ref.nr), 900);
  const int64_t rows = v.mr, cols = v.nr, ldc = cols;
  const std::vector<float> w = testing::random_values(rows * k, 901);
  const std::vector<float> bias = testing::random_values(rows, 902);
  std::vector<float> got(static_cast<size_t>(rows * ldc)), want(got.size());
  GemmEpilogue ep;
  ep.bias = bias.data();
  ep.min = -0.5f;
  ep.max = INFINITY;
  std::vector<float> a(static_cast<size_t>(k * v.mr));
  f32_gemm_pack_a(w.data(), rows, k, k, 0, v.mr, a.data());
  v.fn(k, a.data(), b.buffer.data(), b.offsets.data(), got.data(), ldc, rows, cols, ep);
  // The scalar reference covers the same rows x columns in its own smaller tiles.
  std::vector<float> ra(static_cast<size_t>(k * ref.mr));
  for (int64_t r0 = 0; r0 < rows; r0 += ref.mr) {
    f32_gemm_pack_a(w.data(), rows, k, k, r0, ref.mr, ra.data());
    for (int64_t c0 = 0; c0 < cols; c0 += ref.nr) {
      GemmEpilogue e = ep;
      e.bias = bias.data() + r0;
      ref.fn(k, ra.data(), b.buffer.data() + c0, b.offsets.data(), want.data() + r0 * ldc + c0, ldc,
             std::min<int64_t>(ref.mr, rows - r0), std::min<int64_t>(ref.nr, cols - c0), e);
    }
  }
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5f) << v.name << " at " << i;
}

TEST_P(F32IgemmTest, ClampKeepsNaN) {
  const F32IgemmVariant& v = variant();
  const int64_t k = 3;
  std::vector<float> a(static_cast<size_t>(k * v.mr), 1.0f), b(static_cast<size_t>((k + 1) * v.nr), 1.0f);
  b[1] = NAN;  // row 0, column 1
  const std::vector<int64_t> offsets = {0, v.nr, 2 * v.nr};
  std::vector<float> residual(static_cast<size_t>(v.mr * v.nr), -10.0f);
  std::vector<float> c(static_cast<size_t>(v.mr * v.nr));
  GemmEpilogue ep;
  ep.residual = residual.data();
  ep.min = 0.0f;
  ep.max = 6.0f;
  v.fn(k, a.data(), b.data(), offsets.data(), c.data(), v.nr, v.mr, v.nr, ep);
  for (int64_t i = 0; i < v.mr; ++i) {
    EXPECT_EQ(c[i * v.nr], 0.0f) << v.name;  // 3 - 10 clamped to 0
    EXPECT_TRUE(std::isnan(c[i * v.nr + 1])) << v.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, F32IgemmTest, ::testing::Range(0, testing::variant_count(f32_igemm_variants)),
                         testing::VariantName<F32IgemmVariant>{f32_igemm_variants});

TEST(F32IgemmSelect, PicksHighestAvailableIsaAndFewestPaddedElements) {
  EXPECT_EQ(f32_igemm_select(IsaLevel::kScalar, 64, 112).isa, IsaLevel::kScalar);
#if defined(__x86_64__)
  EXPECT_STREQ(f32_igemm_select(IsaLevel::kAvx2, 64, 112).name, "avx2_6x16");
  // 64 rows: 28-row tiles compute 84, 16x16 none extra (24 % saved).
  EXPECT_STREQ(f32_igemm_select(IsaLevel::kAvx512, 64, 112).name, "avx512_16x16");
  // 128 rows: 28x16 pads to 140 (9 %), less than the tenth a smaller tile must save.
  EXPECT_STREQ(f32_igemm_select(IsaLevel::kAvx512, 128, 56).name, "avx512_28x16");
  // 28 columns a row: 16-wide tiles compute 32 of them, like one 32-wide tile; 14x32 pads
  // 28 rows to 28 too and comes after 28x16 in the list.
  EXPECT_STREQ(f32_igemm_select(IsaLevel::kAvx512, 28, 28).name, "avx512_28x16");
#endif
}

}  // namespace
}  // namespace deployrt
