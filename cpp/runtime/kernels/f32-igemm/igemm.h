// Indirect f32 GEMM microkernels: C[mr, nr] = epilogue(A_panel x B) where B row p starts
// at b + offsets[p] instead of b + p * ldb.
//
// For a convolution (kernels/f32-conv/conv_igemm.h), B row p = (c, kh, kw) of NR
// consecutive output columns of one output row is a contiguous run of a padded,
// column-deinterleaved copy of the input, so the rows are read in place through a table
// of K offsets made once at kernel creation: no im2col matrix is written per call.
//
// A is the packed [k][MR] panel of f32_gemm_pack_a (the same bytes as the GEMM path's, so
// prepacked weights serve both). Every B row is read NR floats wide whatever nr is: the
// columns past nr are computed and dropped, so the caller keeps NR floats readable (and
// finite or not, they never reach C) past every b + offsets[p] + nr - 1. C is row-major
// with leading dimension ldc; only the mr x nr corner is stored, with the fused epilogue
// of gemm.h (bias, residual, NaN-keeping clamp of kernels/epilogue.h). Each output is one
// full-K sum in a fixed order, so results never depend on threading.
#pragma once

#include <cstdint>

#include "cpu/cpu_features.h"
#include "kernels/f32-gemm/gemm.h"

namespace deployrt {

using F32IgemmUkernel = void (*)(int64_t k, const float* a, const float* b, const int64_t* offsets, float* c,
                                 int64_t ldc, int64_t mr, int64_t nr, const GemmEpilogue& epilogue);

// The one list of microkernels: X(name, isa, MR, NR). Dispatch, tests and benchmarks all
// expand it. x86 variants exist only where their translation units are compiled.
#define DEPLOYRT_F32_IGEMM_PORTABLE(X) X(scalar_4x8, kScalar, 4, 8)
#if defined(__x86_64__)
#define DEPLOYRT_F32_IGEMM_X86(X)    \
  X(avx2_6x16, kAvx2, 6, 16)         \
  X(avx512_28x16, kAvx512, 28, 16)   \
  X(avx512_16x16, kAvx512, 16, 16)   \
  X(avx512_14x32, kAvx512, 14, 32)
#else
#define DEPLOYRT_F32_IGEMM_X86(X)
#endif
#define DEPLOYRT_F32_IGEMM_VARIANTS(X) DEPLOYRT_F32_IGEMM_PORTABLE(X) DEPLOYRT_F32_IGEMM_X86(X)

#define DEPLOYRT_DECLARE_F32_IGEMM(name, isa, mr, nr)                                                          \
  void f32_igemm_##name(int64_t k, const float* a, const float* b, const int64_t* offsets, float* c, int64_t ldc, \
                        int64_t mr_, int64_t nr_, const GemmEpilogue& epilogue);
DEPLOYRT_F32_IGEMM_VARIANTS(DEPLOYRT_DECLARE_F32_IGEMM)
#undef DEPLOYRT_DECLARE_F32_IGEMM

struct F32IgemmVariant {
  const char* name;
  IsaLevel isa;
  int mr, nr;
  F32IgemmUkernel fn;
};

/// Every variant of the list (whether or not this CPU can run it), in list order.
const F32IgemmVariant* f32_igemm_variants(int* count);

/// The microkernel for `rows` output rows by `row_length` columns per tile row (a tile
/// never spans two rows): among the variants of the highest ISA available at `level`, the
/// one computing the fewest padded elements, ceil(rows / MR) * MR * ceil(row_length / NR)
/// * NR (ties: list order). As in f32_gemm_select, a smaller tile must save a tenth of the
/// padded work to win (it reads more of A and B per FMA).
const F32IgemmVariant& f32_igemm_select(IsaLevel level, int64_t rows, int64_t row_length);

}  // namespace deployrt
