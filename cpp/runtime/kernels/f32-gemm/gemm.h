// Register-blocked f32 GEMM microkernels: C[mr, nr] = epilogue(A_panel x B_panel).
//
// A is a packed panel [k][MR] (MR rows interleaved per k step; rows past the matrix are
// zero). B is k rows of NR columns, `ldb` floats apart: a packed panel [k][NR] (ldb = NR,
// zero-padded columns) or, for a 1x1 convolution, the input itself (ldb = the row length;
// then only the nr columns of the tile are read, so nothing past the input is touched and
// no packing pass is needed). C is row-major with
// leading dimension ldc; only the mr x nr corner (mr <= MR, nr <= NR) is stored. The
// epilogue is fused into the store:
//   C[i][j] = clamp(bias[i] + sum_k A[k][i] * B[k][j] + residual[i * ldc + j], min, max)
// with bias and residual optional (null), and the NaN-keeping clamp of kernels/epilogue.h.
// Each output is one full-K sum in a fixed order, so results never depend on threading.
#pragma once

#include <cstdint>

#include "cpu/cpu_features.h"

namespace deployrt {

struct GemmEpilogue {
  const float* bias = nullptr;      // [mr], offset to the tile's first row
  const float* residual = nullptr;  // offset to the tile's C[0][0]; same ldc as C
  float min = 0.0f, max = 0.0f;
};

using F32GemmUkernel = void (*)(int64_t k, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                                int64_t mr, int64_t nr, const GemmEpilogue& epilogue);

// The one list of microkernels: X(name, isa, MR, NR). Dispatch, tests and benchmarks all
// expand it. x86 variants exist only where their translation units are compiled.
// avx512_8x49 is AVX-512 only (its 49th column rides in a masked ymm with 8 rows per lane
// group, see avx512.cc); it covers a 7x7 output, and 14x14 / 28x28 / 56x56 ones, in whole
// tiles. AVX2 keeps 6x16 for every shape: 48 columns are 6 ymm vectors per row, so its
// 16 registers would hold two rows of accumulators, loading 3x more of B per FMA.
#define DEPLOYRT_F32_GEMM_PORTABLE(X) X(scalar_4x8, kScalar, 4, 8)
#if defined(__x86_64__)
#define DEPLOYRT_F32_GEMM_X86(X) \
  X(avx2_6x16, kAvx2, 6, 16)     \
  X(avx512_14x32, kAvx512, 14, 32) \
  X(avx512_28x16, kAvx512, 28, 16) \
  X(avx512_16x16, kAvx512, 16, 16) \
  X(avx512_8x32, kAvx512, 8, 32)   \
  X(avx512_8x49, kAvx512, 8, 49)
#else
#define DEPLOYRT_F32_GEMM_X86(X)
#endif
#define DEPLOYRT_F32_GEMM_VARIANTS(X) DEPLOYRT_F32_GEMM_PORTABLE(X) DEPLOYRT_F32_GEMM_X86(X)

#define DEPLOYRT_DECLARE_F32_GEMM(name, isa, mr, nr)                                                  \
  void f32_gemm_##name(int64_t k, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,  \
                       int64_t mr_, int64_t nr_, const GemmEpilogue& epilogue);
DEPLOYRT_F32_GEMM_VARIANTS(DEPLOYRT_DECLARE_F32_GEMM)
#undef DEPLOYRT_DECLARE_F32_GEMM

struct F32GemmVariant {
  const char* name;
  IsaLevel isa;
  int mr, nr;
  F32GemmUkernel fn;
};

/// Every variant of the list (whether or not this CPU can run it), in list order.
const F32GemmVariant* f32_gemm_variants(int* count);

/// The microkernel for an m x n output at `level`: among the variants of the highest ISA
/// available at that level, the one computing the fewest padded elements (ties: the one
/// loading fewer operands per FMA, then list order). A smaller tile must save at least a
/// tenth of the padded work to win: it reads more of A and B per FMA. (Ties matter for
/// MobileNetV2's 16-, 24- and 32-channel projections, whose 112x112 .. 28x28 outputs
/// 16x16, 8x32 and 8x49 all cover exactly: 8x49 reads 196 contiguous bytes of each input
/// row per k step, and its 13 loads feed 24.5 FMAs where 16x16 loads 17 for 16; in a
/// microbenchmark it ran 10-30 % faster at 1 thread, 5-15 % at 2.) The 16-accumulator
/// tiles serve outputs of 16, 24 or 32 rows, which 14- and 28-row tiles pad by 17-75 %;
/// 8x49 serves 49 or 196 columns, which 32-column tiles pad by 31 % or 14 %.
/// `nr_multiple`: only tiles whose NR is a multiple of it, for a caller that writes B panels
/// in groups of that many columns (Winograd's transforms: one tile per vector lane, 1, 8 or
/// 16 at the scalar, AVX2 and AVX-512 levels, which every level's 8-, 16- or 32-column tiles
/// meet; 8x49 does not).
const F32GemmVariant& f32_gemm_select(IsaLevel level, int64_t m, int64_t n, int nr_multiple = 1);

/// Packs rows [row0, row0 + MR) of the row-major matrix w[rows, k] (leading dim ldw) into
/// the [k][MR] panel layout at `out`; rows at or past `rows` are zero.
void f32_gemm_pack_a(const float* w, int64_t rows, int64_t k, int64_t ldw, int64_t row0, int mr, float* out);

}  // namespace deployrt
