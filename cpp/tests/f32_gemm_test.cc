// Every GEMM microkernel of the variant list against a double-precision textbook product,
// over tiles that hit every row/column tail and K from 1 up, with each epilogue part.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/f32-gemm/gemm.h"
#include "kernel_test_util.h"
#include "ops_test_util.h"

namespace deployrt {
namespace {

using testing::host_isa;

class F32GemmTest : public testing::VariantTest<F32GemmVariant, f32_gemm_variants> {};

// C = clamp(bias + A.B + residual) for an mr x nr tile of a matrix with row stride ldc.
void check_tile(const F32GemmVariant& v, int64_t k, int64_t mr, int64_t nr, bool bias_on, bool residual_on,
                float lo, float hi, uint32_t seed) {
  SCOPED_TRACE(std::string(v.name) + " k=" + std::to_string(k) + " mr=" + std::to_string(mr) +
               " nr=" + std::to_string(nr) + (bias_on ? " bias" : "") + (residual_on ? " residual" : ""));
  const int64_t ldc = v.nr + 3;  // C rows wider than the tile: stores must stay in bounds
  const std::vector<float> w = testing::random_values(v.mr * k, seed);  // row-major [mr rows, k]
  std::vector<float> a(static_cast<size_t>(k * v.mr));
  f32_gemm_pack_a(w.data(), mr, k, k, 0, v.mr, a.data());
  std::vector<float> b = testing::random_values(k * v.nr, seed + 1);  // packed [k][NR]
  for (int64_t p = 0; p < k; ++p) {
    for (int64_t j = nr; j < v.nr; ++j) b[p * v.nr + j] = 0.0f;  // packing zero-pads columns
  }
  const std::vector<float> bias = testing::random_values(v.mr, seed + 2);
  const std::vector<float> residual = testing::random_values(v.mr * ldc, seed + 3);
  const float sentinel = 12345.0f;
  std::vector<float> c(static_cast<size_t>(v.mr * ldc), sentinel);
  GemmEpilogue ep;
  ep.bias = bias_on ? bias.data() : nullptr;
  ep.residual = residual_on ? residual.data() : nullptr;
  ep.min = lo;
  ep.max = hi;
  v.fn(k, a.data(), b.data(), v.nr, c.data(), ldc, mr, nr, ep);
  for (int64_t i = 0; i < v.mr; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const float got = c[i * ldc + j];
      if (i >= mr || j >= nr) {
        ASSERT_EQ(got, sentinel) << "store outside the tile at " << i << "," << j;
        continue;
      }
      double ref = bias_on ? bias[i] : 0.0;
      for (int64_t p = 0; p < k; ++p) ref += double(w[i * k + p]) * b[p * v.nr + j];
      if (residual_on) ref += residual[i * ldc + j];
      const double clamped = ref < lo ? lo : (ref > hi ? hi : ref);
      ASSERT_NEAR(got, clamped, 1e-5 * (1.0 + std::sqrt(double(k)))) << "at " << i << "," << j;
    }
  }
}

// Tile widths to try for a variant: 1, the middle, NR - 1 and NR, plus the widths around
// each 16-lane vector boundary that fit (a 7x7 output's 49 columns end one lane past three
// vectors; 17 and 33 leave one lane in the last vector).
std::vector<int64_t> tile_widths(const F32GemmVariant& v) {
  std::vector<int64_t> widths = {1, v.nr / 2 + 1, v.nr - 1, v.nr};
  for (int64_t nr : {15, 16, 17, 31, 32, 33, 47, 48}) {
    if (nr < v.nr) widths.push_back(nr);
  }
  return widths;
}

TEST_P(F32GemmTest, AllTailsAndDepths) {
  const F32GemmVariant& v = variant();
  const float inf = INFINITY;
  uint32_t seed = 100;
  for (int64_t k : {1, 2, 7, 64, 300}) {
    for (int64_t mr : {int64_t{1}, int64_t{v.mr - 1}, int64_t{v.mr}}) {
      for (int64_t nr : tile_widths(v)) {
        if (mr < 1 || nr < 1) continue;
        check_tile(v, k, mr, nr, false, false, -inf, inf, seed++);
        check_tile(v, k, mr, nr, true, true, -inf, inf, seed++);
        check_tile(v, k, mr, nr, true, false, 0.0f, 0.25f, seed++);
      }
    }
  }
}

TEST_P(F32GemmTest, ClampKeepsNaN) {
  const F32GemmVariant& v = variant();
  const int64_t k = 3;
  // The NaN in column 1, then in the last column (a separate code path in 8x49).
  for (int64_t nan_col : {int64_t{1}, int64_t{v.nr - 1}}) {
    const int64_t clamped_col = nan_col == 1 ? v.nr - 1 : 0;
    std::vector<float> a(static_cast<size_t>(k * v.mr), 1.0f), b(static_cast<size_t>(k * v.nr), 1.0f);
    b[nan_col] = NAN;  // that column of every row sums a NaN
    std::vector<float> residual(static_cast<size_t>(v.mr * v.nr), -10.0f);
    std::vector<float> c(static_cast<size_t>(v.mr * v.nr));
    GemmEpilogue ep;
    ep.residual = residual.data();
    ep.min = 0.0f;
    ep.max = 6.0f;
    v.fn(k, a.data(), b.data(), v.nr, c.data(), v.nr, v.mr, v.nr, ep);
    for (int64_t i = 0; i < v.mr; ++i) {
      EXPECT_EQ(c[i * v.nr + clamped_col], 0.0f) << v.name;  // 3 - 10 clamped to 0
      EXPECT_TRUE(std::isnan(c[i * v.nr + nan_col])) << v.name;
    }
  }
}

// B read in place from a wider row-major matrix (ldb > NR, a 1x1 convolution's input):
// the same result as the packed panel, bit for bit, and only the tile's nr columns are
// read. The matrix ends right after the tile's last element, so an over-read of a narrow
// tile leaves the buffer (ASan).
TEST_P(F32GemmTest, UnpackedBMatchesPackedPanel) {
  const F32GemmVariant& v = variant();
  uint32_t seed = 500;
  for (int64_t k : {1, 5, 70}) {
    for (int64_t nr : tile_widths(v)) {
      SCOPED_TRACE(std::string(v.name) + " k=" + std::to_string(k) + " nr=" + std::to_string(nr));
      const int64_t ldb = v.nr + 9, col0 = 4;  // the tile starts 4 columns into each row
      std::vector<float> matrix = testing::random_values((k - 1) * ldb + col0 + nr, seed++);
      std::vector<float> panel(static_cast<size_t>(k * v.nr), 0.0f);
      for (int64_t p = 0; p < k; ++p) {
        for (int64_t j = 0; j < nr; ++j) panel[p * v.nr + j] = matrix[p * ldb + col0 + j];
      }
      const std::vector<float> a = testing::random_values(k * v.mr, seed++);
      const std::vector<float> bias = testing::random_values(v.mr, seed++);
      GemmEpilogue ep;
      ep.bias = bias.data();
      ep.min = -INFINITY;
      ep.max = INFINITY;
      std::vector<float> want(static_cast<size_t>(v.mr * v.nr), 3.0f), got = want;
      v.fn(k, a.data(), panel.data(), v.nr, want.data(), v.nr, v.mr, nr, ep);
      v.fn(k, a.data(), matrix.data() + col0, ldb, got.data(), v.nr, v.mr, nr, ep);
      ASSERT_EQ(got, want);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, F32GemmTest, ::testing::Range(0, testing::variant_count(f32_gemm_variants)),
                         testing::VariantName<F32GemmVariant>{f32_gemm_variants});

// Packing is a transpose done in column blocks: every K around the block width, row
// tails (rows past the matrix are zero), a row offset, a wider leading dimension, and
// panel heights of every microkernel plus one wider than the block buffer.
TEST(F32GemmPackA, MatchesElementwiseDefinition) {
  for (int mr : {4, 6, 14, 28, 65}) {
    for (int64_t k : {1, 15, 16, 17, 40}) {
      for (int64_t rows : {int64_t{mr} + 3, int64_t{mr} + 9, int64_t{2 * mr}}) {
        SCOPED_TRACE("mr " + std::to_string(mr) + " k " + std::to_string(k) + " rows " + std::to_string(rows));
        const int64_t ldw = k + 5, row0 = mr;  // second panel: rows [mr, 2 mr), some past the matrix
        const std::vector<float> w = testing::random_values(rows * ldw, static_cast<uint32_t>(mr * 100 + k));
        std::vector<float> a(static_cast<size_t>(k * mr), -1.0f);
        f32_gemm_pack_a(w.data(), rows, k, ldw, row0, mr, a.data());
        for (int64_t p = 0; p < k; ++p) {
          for (int64_t i = 0; i < mr; ++i) {
            const float want = row0 + i < rows ? w[(row0 + i) * ldw + p] : 0.0f;
            ASSERT_EQ(a[p * mr + i], want) << "step " << p << " row " << i;
          }
        }
      }
    }
  }
}

TEST(F32GemmSelect, PicksHighestAvailableIsaAndFewestPaddedElements) {
  EXPECT_EQ(f32_gemm_select(IsaLevel::kScalar, 64, 3136).isa, IsaLevel::kScalar);
#if defined(__x86_64__)
  EXPECT_STREQ(f32_gemm_select(IsaLevel::kAvx2, 64, 3136).name, "avx2_6x16");
  // 56 rows: 28x16 has no row padding at 56 x 64 columns, 14x32 also none: list order wins.
  EXPECT_STREQ(f32_gemm_select(IsaLevel::kAvx512, 56, 64).name, "avx512_14x32");
  // 28 rows x 16 columns: 14x32 pads the columns to 32, 28x16 pads nothing.
  EXPECT_STREQ(f32_gemm_select(IsaLevel::kAvx512, 28, 16).name, "avx512_28x16");
  // 16 rows: 14- and 28-row tiles compute 28; 16x16 saves 43 % of the padded work. At 48
  // columns it pads nothing (8x32 computes 64 columns, 8x49 49).
  EXPECT_STREQ(f32_gemm_select(IsaLevel::kAvx512, 16, 48).name, "avx512_16x16");
  // At 3136 columns (56x56 = 64 x 49) 16x16, 8x32 and 8x49 all pad nothing: the tie goes
  // to the fewest operand loads per FMA, 8x49's 13 per 24.5 (8x32: 10 per 16, 16x16: 17
  // per 16). Likewise 16 rows x 112x112 and 32 rows x 28x28.
  EXPECT_STREQ(f32_gemm_select(IsaLevel::kAvx512, 16, 3136).name, "avx512_8x49");
  EXPECT_STREQ(f32_gemm_select(IsaLevel::kAvx512, 16, 12544).name, "avx512_8x49");
  EXPECT_STREQ(f32_gemm_select(IsaLevel::kAvx512, 32, 784).name, "avx512_8x49");
  // 32 rows x 64 columns: 16x16 and 8x32 both pad nothing (8x49 computes 98 columns):
  // 8x32 loads fewer operands per FMA.
  EXPECT_STREQ(f32_gemm_select(IsaLevel::kAvx512, 32, 64).name, "avx512_8x32");
  // 24 rows: 8x32 computes 24 rows instead of 28, a saving of 14 %; at 64 columns 8x49
  // would compute 98.
  EXPECT_STREQ(f32_gemm_select(IsaLevel::kAvx512, 24, 64).name, "avx512_8x32");
  EXPECT_STREQ(f32_gemm_select(IsaLevel::kAvx512, 24, 3136).name, "avx512_8x49");
  // 64 rows: 8x32 pads nothing but 14x32 pads only 9 %: less than a tenth, it stays.
  EXPECT_STREQ(f32_gemm_select(IsaLevel::kAvx512, 64, 3136).name, "avx512_14x32");
  // A 7x7 output (49 columns): 32-column tiles compute 64, 8x49 computes 49 (and 512 rows
  // split into 8s exactly).
  EXPECT_STREQ(f32_gemm_select(IsaLevel::kAvx512, 512, 49).name, "avx512_8x49");
  // 14x14 (196 columns = 4 x 49) by 256 rows: the best 16-column tile, 28x16, computes
  // 280 x 208; 8x49 saves 14 % of that. At 512 rows 28x16 computes 532 x 208, which 8x49
  // beats by only 9 %: less than a tenth, 28x16 stays.
  EXPECT_STREQ(f32_gemm_select(IsaLevel::kAvx512, 256, 196).name, "avx512_8x49");
  EXPECT_STREQ(f32_gemm_select(IsaLevel::kAvx512, 512, 196).name, "avx512_28x16");
  // Winograd writes its B panels one tile per vector lane, 16 at a time: with whole vectors
  // required, 128 x 49 goes to 14x32 (8x49 computes 30 % less but its NR is 49).
  EXPECT_STREQ(f32_gemm_select(IsaLevel::kAvx512, 128, 49).name, "avx512_8x49");
  EXPECT_STREQ(f32_gemm_select(IsaLevel::kAvx512, 128, 49, 16).name, "avx512_14x32");
  // An AVX2 machine never sees the 49-column tile: 6x16 serves every shape there.
  EXPECT_STREQ(f32_gemm_select(IsaLevel::kAvx2, 512, 49).name, "avx2_6x16");
#endif
}

}  // namespace
}  // namespace deployrt
